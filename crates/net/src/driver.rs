//! The tokio side: the UDP socket registered with the reactor. The engine
//! task awaits readiness and then drains up to a budget of datagrams in one
//! wakeup (no task per packet).

use std::io;

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};

use crate::udp::{DhcpSocket, Received};

/// [`DhcpSocket`] registered with the current tokio runtime.
#[derive(Debug)]
pub struct AsyncDhcpSocket {
    fd: AsyncFd<DhcpSocket>,
}

impl AsyncDhcpSocket {
    /// Registers the socket; must be called inside a tokio runtime.
    pub fn new(socket: DhcpSocket) -> io::Result<Self> {
        // SAFETY: DhcpSocket owns its descriptor and never closes or
        // replaces it while registered; it is dropped with the AsyncFd.
        let fd = unsafe { AsyncFd::register(socket)? };
        Ok(AsyncDhcpSocket { fd })
    }

    pub fn get_ref(&self) -> &DhcpSocket {
        self.fd.get_ref()
    }

    /// Waits until at least one datagram may be queued.
    pub async fn readable(&self) -> io::Result<ReadyGuard<'_>> {
        Ok(ReadyGuard {
            guard: self.fd.readable().await?,
        })
    }
}

/// Readiness of the socket; drain it with [`ReadyGuard::recv`].
pub struct ReadyGuard<'a> {
    guard: AsyncFdReadyGuard<'a, DhcpSocket>,
}

impl ReadyGuard<'_> {
    /// The next datagram, or `None` once the queue is empty (readiness is
    /// then cleared, so the next `readable()` waits for new data).
    pub fn recv(&mut self, buf: &mut [u8]) -> Option<io::Result<Received>> {
        // Err(TryIoError) means WouldBlock: readiness was cleared.
        self.guard.try_io(|fd| fd.get_ref().recv(buf)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    #[tokio::test]
    async fn drains_a_burst_in_one_wakeup() {
        let rx = AsyncDhcpSocket::new(DhcpSocket::bind(0).unwrap()).unwrap();
        let port = rx.get_ref().local_addr().unwrap().port();
        let tx = DhcpSocket::bind(0).unwrap();
        for i in 0..5u8 {
            tx.send_to(
                &[i],
                SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
                0,
                Ipv4Addr::UNSPECIFIED,
            )
            .unwrap();
        }
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while got.len() < 5 {
            let mut guard = rx.readable().await.unwrap();
            while let Some(r) = guard.recv(&mut buf) {
                let r = r.unwrap();
                got.push(buf[..r.len].to_vec());
            }
        }
        assert_eq!(got, (0..5u8).map(|i| vec![i]).collect::<Vec<_>>());
    }
}
