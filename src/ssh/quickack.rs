//! A TCP stream that acknowledges what it receives at once.
//!
//! sshd sets TCP_NODELAY only on interactive sessions, so on ours Nagle's
//! algorithm holds its next small packet (the channel-open confirmation right
//! after authentication, for one) until we acknowledge its previous one. With
//! nothing to send, Linux delays that acknowledgement by 40 ms: measured, a
//! 40 ms stall in every connection set-up, a third of a one-task run. The
//! kernel leaves quick-ack mode again by itself, so it is re-armed after
//! every read that brought data.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub struct QuickAck(TcpStream);

impl QuickAck {
    pub fn new(stream: TcpStream) -> Self {
        let quick = QuickAck(stream);
        quick.rearm();
        quick
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn rearm(&self) {
        // Best effort: a socket that refuses it is only slower.
        let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn rearm(&self) {}
}

impl AsyncRead for QuickAck {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.0).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.rearm();
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A request/response exchange puts Linux in its "interactive" mode,
    /// where acknowledgements are delayed; each read must switch that off.
    #[tokio::test]
    async fn every_read_leaves_quick_acks_on() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut peer, _) = listener.accept().await.unwrap();
            let mut byte = [0u8; 1];
            for _ in 0..6 {
                peer.write_all(b"x").await.unwrap();
                peer.read_exact(&mut byte).await.unwrap();
            }
        });
        let mut client = QuickAck::new(TcpStream::connect(addr).await.unwrap());
        let mut byte = [0u8; 1];
        for round in 0..6 {
            client.read_exact(&mut byte).await.unwrap();
            let quick = socket2::SockRef::from(&client.0).tcp_quickack().unwrap();
            assert!(quick, "quick acks off after read {round}");
            client.write_all(b"y").await.unwrap();
        }
        server.await.unwrap();
    }
}
