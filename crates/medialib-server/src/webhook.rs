//! [`HttpWebhookSender`]: the `WebhookSender` port over HTTP, signed with the Standard Webhooks
//! reference library.

use std::sync::OnceLock;
use std::time::Duration;

use medialib_domain::{SendOutcome, WebhookMessage, WebhookSender};

/// POSTs webhook messages with `reqwest`, each attempt bounded by a timeout. Redirects are not
/// followed (a 3xx is a failed attempt): the signed request goes where the endpoint says, or
/// nowhere. The client (and the system's CA certificates it reads) is built on the first send,
/// not when the server or a CLI command starts.
#[derive(Debug)]
pub struct HttpWebhookSender {
    client: OnceLock<Result<reqwest::Client, String>>,
    timeout: Duration,
}

impl HttpWebhookSender {
    /// A sender whose attempts give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            client: OnceLock::new(),
            timeout,
        }
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(self.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("medialib-webhooks/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|err| {
                        format!(
                            "cannot build the HTTP client: {}",
                            medialib_domain::error::chain(&err)
                        )
                    })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn failed(status: Option<u16>, error: String) -> SendOutcome {
    SendOutcome {
        status,
        error: Some(error),
    }
}

#[async_trait::async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn send(&self, message: &WebhookMessage) -> SendOutcome {
        let client = match self.client() {
            Ok(client) => client,
            Err(err) => return failed(None, err),
        };
        let signature = match standardwebhooks::Webhook::new(&message.secret)
            .and_then(|signer| signer.sign(&message.id, message.timestamp, message.body.as_bytes()))
        {
            Ok(signature) => signature,
            Err(err) => return failed(None, format!("cannot sign: {err}")),
        };
        let sent = client
            .post(&message.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &message.id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                message.timestamp.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(message.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => SendOutcome {
                status: Some(response.status().as_u16()),
                error: None,
            },
            Ok(response) => {
                let status = response.status();
                failed(Some(status.as_u16()), format!("answered {status}"))
            }
            Err(err) if err.is_timeout() => {
                failed(None, format!("no answer within {:?}", self.timeout))
            }
            Err(err) => failed(None, medialib_domain::error::chain(&err)),
        }
    }
}
