//! A minimal plain-text SMTP server for tests of the SMTP channel: it greets, accepts every
//! sender and recipient, and keeps each mail's last envelope recipient and DATA section.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One mail the sink received.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope recipient (`RCPT TO`).
    pub recipient: String,
    /// The DATA section: headers and body.
    pub data: String,
}

/// The mails an [`smtp_sink`] received, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct SmtpInbox(Arc<Mutex<Vec<ReceivedMail>>>);

impl SmtpInbox {
    /// Every mail received so far.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.0.lock().unwrap().clone()
    }

    /// Waits (up to `within`) until at least `n` mails arrived, and answers what arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + within;
        while self.0.lock().unwrap().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.mails()
    }
}

/// Serves SMTP on `listener` until the runtime ends.
pub fn smtp_sink(listener: TcpListener) -> SmtpInbox {
    let inbox = SmtpInbox::default();
    let out = inbox.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let inbox = inbox.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP ready\r\n").await.ok();
                let mut recipient = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "RCPT" => {
                            let to = line.split_once(':').map_or("", |(_, to)| to);
                            recipient = to.trim().trim_matches(['<', '>']).to_owned();
                            b"250 OK\r\n"
                        }
                        "HELO" | "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.ok();
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            inbox.0.lock().unwrap().push(ReceivedMail {
                                recipient: recipient.clone(),
                                data,
                            });
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.ok();
                            return;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    out
}
