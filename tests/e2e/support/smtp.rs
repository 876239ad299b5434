//! A real SMTP server on loopback (mailin-embedded), from which tests read what
//! Hive delivered. Recipients can be set to be refused with a 550, as a
//! mailbox that does not exist would be.

use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, BufReader, BufWriter, Write},
    net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use mailin::{Action, Handler, SessionBuilder, response};

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
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> mailin::Response {
        self.to.clear();
        self.data.clear();
        response::OK
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> mailin::Response {
        self.to.clear();
        self.data.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> mailin::Response {
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
    ) -> mailin::Response {
        self.data.clear();
        response::START_DATA
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
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

/// How long a connection may sit silent before the server drops it, as
/// mailin-embedded's five minutes would, but short enough that a connection a
/// test forgot does not keep its thread long.
const IDLE_CONNECTION: Duration = Duration::from_secs(60);

/// The running server: one thread accepting on the port and one per open
/// connection, each speaking SMTP through mailin's protocol state machine
/// (`mailin::Session`, the same one mailin-embedded serves). mailin-embedded's
/// own server could not be stopped and started all its threads at once, so a
/// suite of a few hundred tests ran the process out of memory maps; this one
/// stops when the last clone of its [`MailSink`] goes: the accept thread
/// ends and every open connection is shut, which ends its thread.
struct Running {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    /// A second handle on each open connection, by a number of its own, so
    /// that stopping can shut it; a connection takes itself out as it ends.
    connections: Arc<Mutex<HashMap<u64, TcpStream>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for (_, stream) in self.connections.lock().unwrap().drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A real SMTP server on a loopback port, shared by clones; it stops when
/// the last clone is dropped (see `Running`).
#[derive(Clone)]
pub struct MailSink {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    _running: Arc<Running>,
}

impl MailSink {
    /// A server on a free loopback port. It takes any number of connections
    /// at once (a thread each), so it serves any number of workers.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// A server on a given loopback port: an outage test points Hive at a
    /// port where nothing listens yet, and starts the server there later.
    pub fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind SMTP port");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let running = Arc::new(Running {
            addr,
            stopping: Arc::new(AtomicBool::new(false)),
            connections: Arc::new(Mutex::new(HashMap::new())),
        });
        let stopping = running.stopping.clone();
        let connections = running.connections.clone();
        let accept_shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("smtp-accept-{}", addr.port()))
            .spawn(move || {
                let protocol = SessionBuilder::new("hive-test-smtp");
                for (number, stream) in (0u64..).zip(listener.incoming()) {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let Ok(kept) = stream.try_clone() else {
                        continue;
                    };
                    connections.lock().unwrap().insert(number, kept);
                    let connections = connections.clone();
                    let handler = Session {
                        shared: accept_shared.clone(),
                        to: Vec::new(),
                        data: Vec::new(),
                    };
                    let protocol = protocol.clone();
                    let _ = std::thread::Builder::new()
                        .name("smtp-connection".into())
                        .spawn(move || {
                            serve_connection(stream, &protocol, handler);
                            connections.lock().unwrap().remove(&number);
                        });
                }
            })
            .expect("start the SMTP accept thread");
        Self {
            addr,
            shared,
            _running: running,
        }
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

/// One SMTP conversation: the greeting, then a reply to each line as mailin's
/// session decides, until the client quits, the line goes quiet for
/// [`IDLE_CONNECTION`], or the server stops and shuts the socket.
fn serve_connection(stream: TcpStream, protocol: &SessionBuilder, handler: Session) {
    let remote = stream
        .peer_addr()
        .map(|peer| peer.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let _ = stream.set_read_timeout(Some(IDLE_CONNECTION));
    let _ = stream.set_write_timeout(Some(IDLE_CONNECTION));
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = BufWriter::new(writer);
    let mut session = protocol.build(remote, handler);
    let reply = |writer: &mut BufWriter<TcpStream>, response: &mailin::Response| {
        response.write_to(writer).and_then(|()| writer.flush())
    };
    if reply(&mut writer, &session.greeting()).is_err() {
        return;
    }
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = session.process(&line);
        match response.action {
            Action::Reply => {
                if reply(&mut writer, &response).is_err() {
                    return;
                }
            }
            Action::Close | Action::UpgradeTls => {
                let _ = reply(&mut writer, &response);
                return;
            }
            Action::NoReply => {}
        }
    }
}
