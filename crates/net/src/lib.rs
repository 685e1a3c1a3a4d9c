//! Sockets: DHCP receive and send paths, interface discovery.
