//! An HTTP/1.1 proxy in front of the S3 server that answers `403 AccessDenied` to the
//! requests whose request line contains a chosen text (e.g. the listing of one day), can hold
//! large GET bodies part-way (a download that is under way for as long as a test wants), and
//! passes every other request through, one request per connection. It logs every request
//! line (with ` [copy]` appended when it carries `x-amz-copy-source`: a server-side copy), so
//! tests count what a command sends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct FaultProxy {
    pub port: u16,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    pattern: Mutex<Option<String>>,
    failed: AtomicUsize,
    /// GET bodies longer than this are sent halfway, then held until `released`.
    hold_after: Mutex<Option<usize>>,
    released: AtomicBool,
    log: Mutex<Vec<String>>,
    /// Requests whose request line contains this wait until it is cleared.
    hold_pattern: Mutex<Option<String>>,
    held: AtomicUsize,
}

/// A request or response head: the first line and the header lines.
struct Head {
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    /// Reads a head; None at a clean end of the stream.
    fn read(r: &mut impl BufRead) -> Option<Head> {
        let mut first = String::new();
        if r.read_line(&mut first).ok()? == 0 {
            return None;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':')?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        Some(Head {
            first: first.trim_end().to_string(),
            headers,
        })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The head with `Connection: close`, as bytes.
    fn closing(&self) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.first);
        for (k, v) in &self.headers {
            if !k.eq_ignore_ascii_case("connection") {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        out.push_str("Connection: close\r\n\r\n");
        out.into_bytes()
    }

    /// Reads the body that follows this head, as it was sent (chunked bodies raw).
    fn body(&self, r: &mut impl BufRead, no_body: bool) -> Vec<u8> {
        let mut body = Vec::new();
        if no_body {
            return body;
        }
        if self
            .get("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                body.extend_from_slice(line.as_bytes());
                let size =
                    usize::from_str_radix(line.trim().split(';').next().unwrap(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                r.read_exact(&mut chunk).unwrap();
                body.extend_from_slice(&chunk);
                if size == 0 {
                    return body;
                }
            }
        }
        match self.get("content-length") {
            Some(n) => {
                body.resize(n.parse().unwrap(), 0);
                r.read_exact(&mut body).unwrap();
            }
            None if self.first.starts_with("HTTP/") => {
                r.read_to_end(&mut body).unwrap();
            }
            None => {}
        }
        body
    }
}

fn serve(client: TcpStream, target: u16, shared: &Shared) {
    let pattern = shared.pattern.lock().unwrap().clone();
    client
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut client = client;
    let Some(head) = Head::read(&mut reader) else {
        return;
    };
    let body = head.body(&mut reader, false);
    shared.log.lock().unwrap().push(format!(
        "{}{}",
        head.first,
        if head.get("x-amz-copy-source").is_some() {
            " [copy]"
        } else {
            ""
        }
    ));
    let hold = shared.hold_pattern.lock().unwrap().clone();
    if hold.is_some_and(|p| head.first.contains(&p)) {
        shared.held.fetch_add(1, Ordering::SeqCst);
        while shared
            .hold_pattern
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|p| head.first.contains(p))
            && !shared.stop.load(Ordering::SeqCst)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    if pattern.is_some_and(|p| head.first.contains(&p)) {
        shared.failed.fetch_add(1, Ordering::SeqCst);
        let xml = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>\
                   <Message>fault injected by the test proxy</Message></Error>";
        let _ = write!(
            client,
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{xml}",
            xml.len()
        );
        return;
    }
    let mut upstream = TcpStream::connect(("127.0.0.1", target)).unwrap();
    upstream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    upstream.write_all(&head.closing()).unwrap();
    upstream.write_all(&body).unwrap();
    let mut up = BufReader::new(upstream);
    let Some(resp) = Head::read(&mut up) else {
        return;
    };
    let status = resp.first.split(' ').nth(1).unwrap_or("");
    let no_body = head.first.starts_with("HEAD ") || status == "204" || status == "304";
    let resp_body = resp.body(&mut up, no_body);
    let _ = client.write_all(&resp.closing());
    let hold = *shared.hold_after.lock().unwrap();
    match hold.filter(|n| head.first.starts_with("GET ") && resp_body.len() > *n) {
        Some(_) => {
            // Half the body, then nothing until released; then the connection closes short
            // of its Content-Length.
            let _ = client.write_all(&resp_body[..resp_body.len() / 2]);
            let _ = client.flush();
            while !shared.released.load(Ordering::SeqCst) && !shared.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        None => {
            let _ = client.write_all(&resp_body);
        }
    }
}

impl FaultProxy {
    /// Listens on a free loopback port, forwarding to `127.0.0.1:target`.
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let sh = shared.clone();
        std::thread::spawn(move || {
            while !sh.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let sh = sh.clone();
                        std::thread::spawn(move || serve(client, target, &sh));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy { port, shared }
    }

    /// From now on, requests whose request line contains `text` fail (None: none fail).
    pub fn fail_requests_containing(&self, text: Option<&str>) {
        *self.shared.pattern.lock().unwrap() = text.map(str::to_string);
    }

    /// How many requests failed so far.
    pub fn failures(&self) -> usize {
        self.shared.failed.load(Ordering::SeqCst)
    }

    /// From now on, GET bodies longer than `n` bytes stop halfway until [`Self::release`].
    pub fn hold_bodies_after(&self, n: usize) {
        *self.shared.hold_after.lock().unwrap() = Some(n);
    }

    /// From now on, requests whose request line contains `text` wait (until it is changed);
    /// None: none wait.
    pub fn hold_requests_containing(&self, text: Option<&str>) {
        *self.shared.hold_pattern.lock().unwrap() = text.map(str::to_string);
    }

    /// How many requests were held so far.
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// The request lines seen so far (see the module doc), and the log emptied.
    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.shared.log.lock().unwrap())
    }

    /// Ends the held responses: their connections close short of the body.
    pub fn release(&self) {
        self.shared.released.store(true, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}
