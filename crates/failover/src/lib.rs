//! Sans-I/O ISC DHCP failover (the protocol of ISC dhcpd 4.4).
