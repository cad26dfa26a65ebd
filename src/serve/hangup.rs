//! Noticing that an HTTP/1.1 client went away while its request waits on the upstream.
//!
//! hyper serves HTTP/1.1 with half-close on (see `conn`), so it no longer reads the socket
//! while a request is in flight and never learns that the client closed or reset it. A
//! delivery that holds a replay claim must know: the sender will retry, and the retry must
//! not meet its own abandoned claim. [`Hangup`] shares the connection's second handle on its
//! TCP socket (the one `server` keeps to answer 408s), duplicates it and registers the copy
//! with the runtime only the first time it is watched (a route with `replay:`), and resolves
//! [`Hangup::gone`] when the kernel reports the peer's FIN or RST. It never reads: the bytes
//! stay for hyper (or TLS), so a pipelined request is not disturbed.
//!
//! A client that shuts down its sending side on purpose and still waits for the answer looks
//! the same as one that left; on a route with `replay:` that delivery is cancelled and its
//! claim released, so the sender's retry is delivered.

use std::io;
use std::sync::{Arc, OnceLock};

use tokio::io::Interest;
use tokio::net::TcpStream;

/// One connection's watch on its client. Costs nothing until watched.
#[derive(Default)]
pub struct Hangup {
    /// The connection's socket, shared; `None` when there is none to watch.
    socket: Option<Arc<std::net::TcpStream>>,
    /// Its registered duplicate; `None` inside when that failed (then never watched).
    stream: OnceLock<Option<TcpStream>>,
}

impl Hangup {
    /// A watch on the peer of `socket` (a handle on the connection's TCP socket).
    pub fn on(socket: Option<Arc<std::net::TcpStream>>) -> Self {
        Hangup {
            socket,
            stream: OnceLock::new(),
        }
    }

    /// Resolves once the client has closed or reset the connection; pending for as long as
    /// it is there (and forever when it cannot be watched).
    pub async fn gone(&self) {
        let Some(stream) = self.stream() else {
            return std::future::pending().await;
        };
        loop {
            match stream.ready(Interest::READABLE).await {
                Ok(ready) if ready.is_read_closed() => return,
                // Bytes (a pipelined request, a TLS alert) are not an end: forget this
                // readiness without reading and wait for the next event.
                Ok(_) => {
                    let _ = stream.try_io(Interest::READABLE, || {
                        Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
                    });
                }
                Err(_) => return,
            }
        }
    }

    fn stream(&self) -> Option<&TcpStream> {
        self.stream
            .get_or_init(|| {
                let std = self.socket.as_ref()?.try_clone().ok()?;
                std.set_nonblocking(true).ok()?;
                TcpStream::from_std(std).ok()
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    fn watch(server: &TcpStream) -> Hangup {
        let fd = server.as_fd().try_clone_to_owned().unwrap();
        Hangup::on(Some(Arc::new(std::net::TcpStream::from(fd))))
    }

    async fn settles(hangup: &Hangup) -> bool {
        tokio::time::timeout(Duration::from_millis(300), hangup.gone())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_client_that_closes_is_gone_and_one_that_sends_bytes_is_not() {
        let (mut client, server) = pair().await;
        let hangup = watch(&server);
        assert!(!settles(&hangup).await, "gone while the client is there");
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert!(
            !settles(&hangup).await,
            "pipelined bytes taken for a hang-up"
        );
        drop(client);
        assert!(settles(&hangup).await, "a closed client not noticed");
        // Nothing was read: the bytes are still there for hyper.
        let mut buf = [0u8; 64];
        let n = server.try_read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\n\r\n");
    }

    #[tokio::test]
    async fn a_client_that_already_left_is_gone_at_the_first_watch() {
        let (client, server) = pair().await;
        let hangup = watch(&server);
        drop(client);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(settles(&hangup).await);
    }

    #[tokio::test]
    async fn a_watch_without_a_socket_never_fires() {
        assert!(!settles(&Hangup::default()).await);
    }
}
