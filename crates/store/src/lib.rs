//! Lease store: the dhcpd.leases journal with group commit and rewrite.
