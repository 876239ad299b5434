//! A real SMTP server on loopback (mailin-embedded), from which tests read what
//! Hive delivered. Recipients can be set to be refused with a 550, as a
//! mailbox that does not exist would be.

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, SocketAddr, TcpListener},
    sync::{Arc, Mutex},
    time::Duration,
};

use hive_worker::runner::SENDS_IN_FLIGHT_POSTGRES;
use mailin_embedded::{Handler, Server, response};

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl ReceivedMail {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("the SMTP server received a parseable message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed()
            .header_raw(name)
            .map(|value| value.trim().to_string())
    }

    /// The calendar invitation: the `method` of its MIME type and the
    /// iCalendar text (lines unfolded).
    pub fn calendar(&self) -> Option<(String, String)> {
        use mail_parser::MimeHeaders;
        let message = self.parsed();
        message.parts.iter().find_map(|part| {
            let content_type = part.content_type()?;
            let is_calendar = content_type.ctype().eq_ignore_ascii_case("text")
                && content_type
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("calendar"));
            is_calendar.then(|| {
                (
                    content_type.attribute("method").unwrap_or("").to_string(),
                    part.text_contents()
                        .unwrap_or("")
                        .replace("\r\n ", "")
                        .to_string(),
                )
            })
        })
    }

    /// The first `http` link in the plain-text part that contains `needle`.
    pub fn link_containing(&self, needle: &str) -> Option<String> {
        self.text()
            .split_whitespace()
            .find(|word| word.starts_with("http") && word.contains(needle))
            .map(str::to_string)
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<ReceivedMail>,
    /// How many messages carried each Message-ID, counted on arrival (a
    /// fan-out test asks often; parsing thousands of messages each time would
    /// starve the worker it is watching).
    message_ids: HashMap<String, usize>,
    /// How long the server takes to accept each message (see
    /// [`MailSink::slow_down`]).
    delay: Duration,
    refuse: HashSet<String>,
    /// How many times each refused recipient was offered.
    refusals: HashMap<String, usize>,
    defer: HashSet<String>,
}

#[derive(Clone)]
struct Session {
    shared: Arc<Mutex<Shared>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Session {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> mailin_embedded::Response {
        self.to.clear();
        self.data.clear();
        response::OK
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> mailin_embedded::Response {
        self.to.clear();
        self.data.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        let address = to.trim_matches(|c| c == '<' || c == '>').to_lowercase();
        let mut shared = self.shared.lock().unwrap();
        if shared.refuse.contains(&address) {
            *shared.refusals.entry(address).or_insert(0) += 1;
            return response::NO_MAILBOX;
        }
        if shared.defer.contains(&address) {
            return response::OUT_OF_SPACE;
        }
        drop(shared);
        self.to.push(address);
        response::OK
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> mailin_embedded::Response {
        self.data.clear();
        response::START_DATA
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let delay = self.shared.lock().unwrap().delay;
        std::thread::sleep(delay);
        let mail = ReceivedMail {
            to: std::mem::take(&mut self.to),
            raw: std::mem::take(&mut self.data),
        };
        let message_id = mail.header("Message-ID").unwrap_or_default();
        let mut shared = self.shared.lock().unwrap();
        *shared.message_ids.entry(message_id).or_insert(0) += 1;
        shared.received.push(mail);
        response::OK
    }
}

/// Server threads per worker process a sink serves. mailin gives each open
/// connection a thread of its own, and a worker keeps up to
/// `runner::SENDS_IN_FLIGHT_POSTGRES` connections busy at once; a connection
/// beyond the threads would wait unanswered until the client timed out.
/// mailin starts every thread at once and none ends before the test process
/// does, so a sink has only what its test needs: sinks of 160 threads for
/// every test ran the suite out of memory maps.
const THREADS_PER_WORKER: usize = SENDS_IN_FLIGHT_POSTGRES + 16;

/// The running server. It lives until the test process ends (mailin's
/// `serve` has no shutdown), one per test, each on its own port.
#[derive(Clone)]
pub struct MailSink {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl MailSink {
    /// A server for `workers` worker processes sending at once.
    pub fn start(workers: usize) -> Self {
        Self::start_on(0, workers)
    }

    /// A server on a given loopback port: an outage test points Hive at a
    /// port where nothing listens yet, and starts the server there later.
    pub fn start_on(port: u16, workers: usize) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind SMTP port");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let handler = Session {
            shared: shared.clone(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(handler);
        server
            .with_name("hive-test-smtp")
            .with_num_threads(u32::try_from(THREADS_PER_WORKER * workers).unwrap_or(u32::MAX))
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// How many times the server refused `address` (see [`Self::refuse`]).
    pub fn refusals(&self, address: &str) -> usize {
        let shared = self.shared.lock().unwrap();
        shared
            .refusals
            .get(&address.to_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Make the server refuse this recipient permanently (550).
    pub fn refuse(&self, address: &str) {
        self.shared
            .lock()
            .unwrap()
            .refuse
            .insert(address.to_lowercase());
    }

    /// Make the server turn this recipient away for now (452: try later).
    pub fn defer(&self, address: &str) {
        self.shared
            .lock()
            .unwrap()
            .defer
            .insert(address.to_lowercase());
    }

    /// Make the server take `delay` to accept each message (its reply to
    /// the end of the data), like a slow or overloaded relay.
    pub fn slow_down(&self, delay: Duration) {
        self.shared.lock().unwrap().delay = delay;
    }

    /// Take this recipient again, after [`Self::refuse`] or [`Self::defer`].
    pub fn welcome(&self, address: &str) {
        let mut shared = self.shared.lock().unwrap();
        shared.refuse.remove(&address.to_lowercase());
        shared.defer.remove(&address.to_lowercase());
    }

    /// How many messages carried each Message-ID (each email row has one,
    /// the same on every attempt).
    pub fn message_id_counts(&self) -> HashMap<String, usize> {
        self.shared.lock().unwrap().message_ids.clone()
    }

    /// How many distinct Message-IDs arrived.
    pub fn distinct_messages(&self) -> usize {
        self.shared.lock().unwrap().message_ids.len()
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.lock().unwrap().received.clone()
    }

    pub fn received_by(&self, address: &str) -> Vec<ReceivedMail> {
        let address = address.to_lowercase();
        self.received()
            .into_iter()
            .filter(|mail| mail.to.contains(&address))
            .collect()
    }

    /// Waits for a message to `address` whose subject contains `needle`.
    pub async fn wait_for_subject(
        &self,
        address: &str,
        needle: &str,
        timeout: Duration,
    ) -> ReceivedMail {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(mail) = self
                .received_by(address)
                .into_iter()
                .find(|m| m.subject().contains(needle))
            {
                return mail;
            }
            if tokio::time::Instant::now() > deadline {
                let subjects: Vec<String> = self
                    .received_by(address)
                    .iter()
                    .map(|m| m.subject())
                    .collect();
                panic!(
                    "{address} received no \"{needle}\" within {timeout:?}; it has: {subjects:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `address` has received `count` messages (or panics after
    /// `timeout`, listing what did arrive).
    pub async fn wait_for(
        &self,
        address: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mails = self.received_by(address);
            if mails.len() >= count {
                return mails;
            }
            if tokio::time::Instant::now() > deadline {
                let everyone: Vec<Vec<String>> =
                    self.received().into_iter().map(|m| m.to).collect();
                panic!(
                    "{address} received {} of {count} messages within {timeout:?}; all recipients: {everyone:?}",
                    mails.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
