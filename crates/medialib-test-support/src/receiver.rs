//! A webhook receiver on loopback: verifies each message's Standard Webhooks signature with
//! the secret it is given, answers as scripted, and records what it accepted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response};

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// This status at once.
    Status(u16),
    /// No answer for this long, then 204 (past the sender's timeout).
    Hang(Duration),
}

/// A message the receiver accepted (answered 2xx).
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// `webhook-id`.
    pub id: String,
    /// The body's `type`.
    pub event_type: String,
    /// The body's `data.media_id`.
    pub media_id: Option<i64>,
    /// The body's `data.seq`.
    pub seq: i64,
}

#[derive(Debug, Default)]
struct State {
    secret: Option<String>,
    script: VecDeque<Answer>,
    fail_every: Option<usize>,
    requests: usize,
    bad_signatures: usize,
    accepted: Vec<Received>,
}

/// A running receiver; it stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn answer(state: Arc<Mutex<State>>, request: Request, body: Vec<u8>) -> Response {
    let (secret, scripted) = {
        let mut state = lock(&state);
        state.requests += 1;
        let failing = state
            .fail_every
            .is_some_and(|every| state.requests.is_multiple_of(every));
        let scripted = state
            .script
            .pop_front()
            .or(failing.then_some(Answer::Status(500)));
        (state.secret.clone(), scripted)
    };
    let verified = secret.is_some_and(|secret| {
        standardwebhooks::Webhook::new(&secret)
            .and_then(|hook| hook.verify(&body, request.headers()))
            .is_ok()
    });
    if !verified {
        lock(&state).bad_signatures += 1;
        return StatusCode::UNAUTHORIZED.into();
    }
    let status = match scripted.unwrap_or(Answer::Status(204)) {
        Answer::Status(status) => status,
        Answer::Hang(delay) => {
            tokio::time::sleep(delay).await;
            // The sender gave up; whatever is answered now is not seen.
            return StatusCode::NO_CONTENT.into();
        }
    };
    if (200..300).contains(&status) {
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let id = request
            .headers()
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        lock(&state).accepted.push(Received {
            id,
            event_type: json["type"].as_str().unwrap_or_default().to_owned(),
            media_id: json["data"]["media_id"].as_i64(),
            seq: json["data"]["seq"].as_i64().unwrap_or_default(),
        });
    }
    StatusCode::from_u16(status)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        .into()
}

impl Receiver {
    /// Starts a receiver on a free loopback port.
    ///
    /// # Panics
    /// No loopback port is free.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind a loopback port");
        let addr = acceptor.local_addr()[0]
            .as_socket_addr()
            .copied()
            .expect("a socket address");
        let shared = Arc::clone(&state);
        let endpoint = poem::endpoint::make(move |mut request: Request| {
            let state = Arc::clone(&shared);
            async move {
                let body = request.take_body().into_vec().await.unwrap_or_default();
                answer(state, request, body).await
            }
        });
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run(endpoint)
                .await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            state,
            task,
        }
    }

    /// Verifies signatures with `secret` from now on.
    pub fn set_secret(&self, secret: &str) {
        lock(&self.state).secret = Some(secret.to_owned());
    }

    /// Answers the next requests as `answers` say, then 204 again.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.state).script.extend(answers);
    }

    /// Answers every `every`-th request 500 (when nothing is scripted).
    pub fn fail_every(&self, every: usize) {
        lock(&self.state).fail_every = Some(every.max(1));
    }

    /// Requests received, whatever was answered.
    pub fn requests(&self) -> usize {
        lock(&self.state).requests
    }

    /// Requests refused for a missing or wrong signature.
    pub fn bad_signatures(&self) -> usize {
        lock(&self.state).bad_signatures
    }

    /// The messages accepted, in the order they arrived (a redelivered one twice).
    pub fn accepted(&self) -> Vec<Received> {
        lock(&self.state).accepted.clone()
    }
}
