//! [`HttpWebhookSender`]: the `WebhookSender` port over HTTP, signed with the Standard Webhooks
//! reference library.

use std::time::Duration;

use medialib_domain::{SendOutcome, WebhookMessage, WebhookSender};

/// POSTs webhook messages with `reqwest`, each attempt bounded by a timeout. Redirects are not
/// followed (a 3xx is a failed attempt): the signed request goes where the endpoint says, or
/// nowhere.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpWebhookSender {
    /// A sender whose attempts give up after `timeout`.
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS backend).
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("medialib-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, timeout })
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
        let signature = match standardwebhooks::Webhook::new(&message.secret)
            .and_then(|signer| signer.sign(&message.id, message.timestamp, message.body.as_bytes()))
        {
            Ok(signature) => signature,
            Err(err) => return failed(None, format!("cannot sign: {err}")),
        };
        let sent = self
            .client
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
