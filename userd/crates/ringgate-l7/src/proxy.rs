//! The HTTP/1.1 reverse proxy of one service: hyper serves the clients,
//! hyper client connections, kept open between exchanges where that is safe
//! (see `upstream`), talk to the back-ends, and a
//! task per response pumps its body to the client through a small channel,
//! so a body is never buffered whole (memory per transfer is the channel's
//! few frames). When the back-end fails mid-body, the pump asks another
//! back-end for the rest (see `resume`) and splices it in; when nobody can
//! finish the body, the client's response ends short, which hyper does by
//! closing the connection before the promised length or without the last
//! chunk: HTTP's signal of a truncated response.

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::timeout;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::pool::{BackendView, Pool};
use crate::resume::{ResumeAsk, Transfer};
use crate::upload::{self, Late, Upload};
use crate::upstream::{Sender, Upstream};
use crate::workers::Workers;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type UpstreamBody = BoxBody<Bytes, hyper::Error>;
pub type ClientBody = BoxBody<Bytes, BoxError>;

/// Frames buffered between a back-end and a client: enough to keep both
/// sockets busy, few enough that a transfer holds little (a frame is at
/// most one read of the back-end connection, `UPSTREAM_BUFFER`).
const CHANNEL_FRAMES: usize = 4;

/// The read buffer of a back-end connection, which bounds a body frame
/// (hyper's default grows to about 400 KiB).
const UPSTREAM_BUFFER: usize = 64 * 1024;

/// What the pump hands the client side of a body.
enum Piece {
    Data(Bytes),
    /// The body is complete.
    End,
    /// The body cannot be completed.
    Abort(&'static str),
}

/// One service (a VIP and port in HTTP mode) and its back-ends.
pub struct Service {
    pub listen: SocketAddr,
    pool: Mutex<Pool>,
    settings: Settings,
    upstream: Upstream,
    pub metrics: Metrics,
}

/// Rebuilds a request for a fresh connection, for requests that may travel
/// on a kept-open one (see `upstream`).
type Again<'a> = &'a (dyn Fn() -> Option<Request<UpstreamBody>> + Sync);

impl Service {
    pub fn new(listen: SocketAddr, backends: &[(SocketAddr, u32)], settings: Settings) -> Service {
        Service {
            listen,
            pool: Mutex::new(Pool::new(backends, settings.hold_down)),
            settings,
            upstream: Upstream::default(),
            metrics: Metrics::default(),
        }
    }

    /// A reload's back-ends (see `Pool::update`).
    pub fn set_backends(&self, backends: &[(SocketAddr, u32)], down: &[SocketAddr]) {
        self.pool().update(backends, down);
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        // The pool holds no invariant a panicking holder could break halfway.
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pick(&self, tried: &[SocketAddr]) -> Option<SocketAddr> {
        self.pool().pick(Instant::now(), tried)
    }

    fn failed(&self, backend: SocketAddr) {
        self.pool().failed(backend, Instant::now());
    }

    pub fn backends(&self) -> Vec<BackendView> {
        self.pool().view(Instant::now())
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Back-end connections resting between exchanges.
    pub fn resting_connections(&self) -> usize {
        self.upstream.resting()
    }

    /// One request to one back-end, up to its response head; returns the
    /// connection with the response, to rest once the body was read. A
    /// request that comes with `again` goes on a kept-open connection if
    /// one rests, and again on a fresh one if the back-end closed that one
    /// under it.
    async fn exchange(
        &self,
        backend: SocketAddr,
        mut request: Request<UpstreamBody>,
        again: Option<Again<'_>>,
        upload: Option<&upload::Progress>,
    ) -> Result<(Response<Incoming>, Sender), BoxError> {
        if let Some(again) = again {
            if let Some(mut sender) = self.upstream.take(backend, Instant::now()) {
                let ready = timeout(self.settings.connect, sender.ready()).await;
                if matches!(ready, Ok(Ok(()))) {
                    match timeout(self.settings.response, sender.try_send_request(request)).await {
                        Err(_) => return Err("no response head in time".into()),
                        Ok(Ok(response)) => {
                            Metrics::add(&self.metrics.upstream_reused);
                            return Ok((response, sender));
                        }
                        Ok(Err(mut error)) => {
                            Metrics::add(&self.metrics.upstream_closed_under_request);
                            request = match error.take_message() {
                                Some(request) => request,
                                None => again().ok_or("the request cannot be rebuilt")?,
                            };
                        }
                    }
                }
                // Otherwise it closed while resting, or was never ready
                // again: the request has not gone anywhere yet.
            }
        }
        let stream = timeout(self.settings.connect, TcpStream::connect(backend))
            .await
            .map_err(|_| "connect timed out")??;
        stream.set_nodelay(true)?;
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(UPSTREAM_BUFFER)
            .handshake(TokioIo::new(stream))
            .await?;
        // The connection's own errors reach us through the response or its
        // body; the task only drives it, until the connection closes.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let response =
            match upload::head_within(sender.send_request(request), self.settings.response, upload)
                .await
            {
                Ok(response) => response?,
                Err(Late::Backend) => return Err("no response head in time".into()),
                Err(Late::Upload) => return Err(Box::new(upload::UploadStalled)),
            };
        Ok((response, sender))
    }

    /// A connection whose response body was read to its end.
    fn rest(&self, backend: SocketAddr, sender: Sender) {
        self.upstream.put(backend, sender, Instant::now());
    }
}

/// Accepts clients for as long as the listener lives; at most
/// `max_connections` (shared by every service) are served at once.
/// Each connection is served on the next of `workers`, or on the caller's
/// runtime without them.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    permits: Arc<Semaphore>,
    workers: Option<Arc<Workers>>,
) {
    // Resting back-end connections are let go when their time is up even
    // if no request comes to use or return one.
    let mut prune = tokio::time::interval(crate::upstream::IDLE_FOR);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let accepted = loop {
            tokio::select! {
                accepted = listener.accept() => break accepted,
                _ = prune.tick() => service.upstream.prune(Instant::now()),
            }
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors or memory: wait instead of spinning.
                eprintln!("ringgate-l7d: {}: accept: {error}", service.listen);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        Metrics::add(&service.metrics.connections);
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let Some(workers) = &workers else {
            tokio::spawn(async move {
                let _permit = permit;
                crate::client::serve(service, stream, peer).await;
            });
            continue;
        };
        // The socket leaves this runtime's reactor for the worker's, so
        // that its readiness wakes the worker's thread, not this one.
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        workers.spawn(async move {
            let _permit = permit;
            if let Ok(stream) = TcpStream::from_std(stream) {
                crate::client::serve(service, stream, peer).await;
            }
        });
    }
}

/// A client's request as it goes to the back-ends.
struct RequestHead {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl RequestHead {
    fn of(parts: http::request::Parts, peer: SocketAddr) -> RequestHead {
        let uri = parts
            .uri
            .path_and_query()
            .map(|path| Uri::from(path.clone()))
            .unwrap_or_else(|| Uri::from_static("/"));
        let mut headers = parts.headers;
        remove_hop_by_hop(&mut headers);
        for_http1(&mut headers, &parts.uri);
        // The address is written on the stack: one allocation, the value's.
        let mut text = [0u8; 64];
        let mut cursor = std::io::Cursor::new(&mut text[..]);
        if write!(cursor, "{}", peer.ip()).is_ok() {
            let written = usize::try_from(cursor.position()).unwrap_or(0);
            if let Ok(value) = HeaderValue::from_bytes(&text[..written]) {
                headers.append(HeaderName::from_static("x-forwarded-for"), value);
            }
        }
        RequestHead {
            method: parts.method,
            uri,
            headers,
        }
    }

    fn request(&self, body: UpstreamBody) -> Request<UpstreamBody> {
        let mut request = Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }

    /// The request for the rest of a body: a GET with the resume's range and
    /// validator in place of the client's own conditions.
    fn resume(&self, ask: &ResumeAsk) -> Option<Request<UpstreamBody>> {
        let mut request = self.request(empty());
        *request.method_mut() = Method::GET;
        let headers = request.headers_mut();
        for name in [
            header::RANGE,
            header::IF_RANGE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::IF_UNMODIFIED_SINCE,
            header::CONTENT_LENGTH,
        ] {
            headers.remove(name);
        }
        headers.insert(header::RANGE, HeaderValue::from_str(&ask.range).ok()?);
        headers.insert(header::IF_RANGE, ask.if_range.clone());
        Some(request)
    }
}

/// What an HTTP/2 request needs to travel as HTTP/1.1: a `Host` (HTTP/2
/// names the authority in the request's URI instead) and its cookies in
/// one field (RFC 9113 section 8.2.3; HTTP/2 clients may send several).
///
/// A request that names its authority in its target (every HTTP/2 request,
/// an HTTP/1.1 one in absolute form) goes with that authority as its
/// `Host`, whatever `Host` it also sent (RFC 9113 section 8.3.1, RFC 9112
/// section 3.2.2): a back-end must never see another host than the one
/// the request was for.
fn for_http1(headers: &mut HeaderMap, uri: &Uri) {
    if let Some(authority) = uri.authority() {
        // Without any user information (`user:password@`), which must
        // never reach a back-end in a `Host`.
        let host = authority
            .as_str()
            .rsplit_once('@')
            .map_or(authority.as_str(), |(_, host)| host);
        if let Ok(host) = HeaderValue::from_str(host) {
            headers.insert(header::HOST, host);
        }
    }
    let mut cookies = headers.get_all(header::COOKIE).iter();
    if let (Some(_), Some(_)) = (cookies.next(), cookies.next()) {
        let joined: Vec<&[u8]> = headers
            .get_all(header::COOKIE)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        if let Ok(joined) = HeaderValue::from_bytes(&joined.join(&b"; "[..])) {
            headers.insert(header::COOKIE, joined);
        }
    }
}

/// Methods a failed exchange may repeat elsewhere (RFC 9110 section 9.2.1).
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn empty() -> UpstreamBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Headers that describe one connection, not the message (RFC 9110 section
/// 7.6.1), including any the `Connection` header names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none, or only `Connection: keep-alive` or
    // `close`: those cost no allocation.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let mut named = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for name in value.split(',').map(str::trim) {
            if name.eq_ignore_ascii_case("close") || name.eq_ignore_ascii_case("keep-alive") {
                continue;
            }
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                named.push(name);
            }
        }
    }
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(KEEP_ALIVE);
    headers.remove(PROXY_CONNECTION);
}

const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name) || *name == KEEP_ALIVE || *name == PROXY_CONNECTION
}

/// A body handed over whole (empty: no body at all).
fn full(data: Bytes) -> ClientBody {
    Full::new(data).map_err(|never| match never {}).boxed()
}

fn plain(status: StatusCode, text: &'static str) -> Response<ClientBody> {
    let mut response = Response::new(full(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

fn bad_gateway(service: &Service) -> Response<ClientBody> {
    Metrics::add(&service.metrics.bad_gateway);
    plain(StatusCode::BAD_GATEWAY, "no back-end answered\n")
}

/// Whether an exchange failed because the request body hyper was sending
/// (the client's, as it arrives) failed: hyper calls that a user error.
fn is_client_body_error(error: &(dyn std::error::Error + 'static)) -> bool {
    error
        .downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_user)
}

pub(crate) async fn handle(
    service: Arc<Service>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<ClientBody>, Infallible> {
    Metrics::add(&service.metrics.requests);
    let (parts, body) = request.into_parts();
    let head = RequestHead::of(parts, peer);
    let has_body = body.size_hint().exact() != Some(0);
    let rebuild = || Some(head.request(empty()));
    let again: Option<Again<'_>> = (!has_body && is_safe(&head.method)).then_some(&rebuild);
    let mut body = Some(body);
    let progress = upload::Progress::new(Instant::now());
    let mut tried = Vec::new();
    let (backend, response, connection) = loop {
        let Some(backend) = service.pick(&tried) else {
            return Ok(bad_gateway(&service));
        };
        tried.push(backend);
        let upstream_body = match body.take() {
            Some(body) if has_body => Upload::new(body, progress.clone()).boxed(),
            _ => empty(),
        };
        match service
            .exchange(
                backend,
                head.request(upstream_body),
                again,
                has_body.then_some(&*progress),
            )
            .await
        {
            Ok((response, connection)) => break (backend, response, connection),
            Err(error) if error.is::<upload::UploadStalled>() => {
                Metrics::add(&service.metrics.upload_stalled);
                return Ok(plain(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request body stopped arriving\n",
                ));
            }
            Err(error) if is_client_body_error(&*error) => {
                // The client's own request body broke off (it went away or
                // sent less than it announced): no fault of the back-end.
                Metrics::add(&service.metrics.client_upload_failed);
                return Ok(plain(
                    StatusCode::BAD_REQUEST,
                    "the request body broke off\n",
                ));
            }
            Err(error) => {
                service.failed(backend);
                eprintln!(
                    "ringgate-l7d: {}: back-end {backend} failed before answering: {error}",
                    service.listen
                );
                // A request body went to the failed back-end: nothing to
                // send again. A method that is not safe is never sent twice
                // (the back-end may have acted on it before failing).
                if has_body || !is_safe(&head.method) {
                    return Ok(bad_gateway(&service));
                }
                Metrics::add(&service.metrics.retried_before_response);
            }
        }
    };
    let (mut response_parts, mut upstream) = response.into_parts();
    remove_hop_by_hop(&mut response_parts.headers);
    let transfer = match Transfer::start(
        // The client's own Range travels on unchanged.
        &head.method,
        head.headers.get(header::RANGE),
        response_parts.status,
        &response_parts.headers,
    ) {
        Ok(transfer) => {
            Metrics::add(&service.metrics.transfers_resumable);
            Some(transfer)
        }
        Err(_) => {
            Metrics::add(&service.metrics.not_resumable);
            None
        }
    };
    let length = response_parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut pump = Pump {
        service: service.clone(),
        head,
        backend,
        // A connection that carried a request body is not kept: a back-end
        // may answer before it read the whole body, and the connection is
        // not ready for another request until the upload ends.
        connection: (!has_body).then_some(connection),
        tried,
        transfer,
        failed_at: None,
    };
    // A body of known length is read up to its first bytes before the head
    // goes out, so that hyper writes the head and the first bytes together:
    // one write and, for a small response, one segment instead of two; and
    // a back-end that fails before its first byte is answered 502, not with
    // a head and a truncated body. A body that came whole in that first
    // read (most small responses) goes out from here, with no task and no
    // channel. A body of unknown length may be a stream whose head matters
    // on its own (server-sent events): its head goes at once.
    let known_length = length.is_some_and(|length| length > 0);
    let (mut first, mut ended, mut whole) = (None, None, None);
    if upstream.is_end_stream() {
        // No body at all, whatever its length says: the answer to a HEAD,
        // a 204 or a 304. It ends with its head (HTTP/2: END_STREAM on
        // the HEADERS frame, as clients check).
        whole = Some(Bytes::new());
    } else if known_length {
        match pump.next_data(&mut upstream).await {
            Ok(data) if upstream.is_end_stream() => whole = Some(data),
            Ok(data) => first = Some(Piece::Data(data)),
            Err(outcome) => ended = Some(outcome),
        }
    }
    if let Some(data) = whole {
        pump.delivered_whole(data.len());
        if response_parts.status == StatusCode::NO_CONTENT {
            // RFC 9110 section 8.6: never in a 204.
            response_parts.headers.remove(header::CONTENT_LENGTH);
        }
        return Ok(Response::from_parts(response_parts, full(data)));
    }
    let first_read_failed = ended.is_some();
    let (sender, mut receiver) = mpsc::channel(CHANNEL_FRAMES);
    tokio::spawn(pump.run(upstream, sender, ended));
    if first_read_failed {
        // The pump resumed elsewhere or gave up.
        match receiver.recv().await {
            Some(Piece::Abort(_)) | None => return Ok(bad_gateway(&service)),
            piece => first = piece,
        }
    }
    let body = ChannelBody {
        first,
        receiver,
        service,
        remaining: length,
        counted: false,
    };
    Ok(Response::from_parts(response_parts, body.boxed()))
}

/// The client side of a pumped body. It ends cleanly only on the pump's
/// explicit `End`: a pump that stops any other way (a stalled client, a
/// panic, a path added later) ends the client's response short, never with
/// the last chunk of a complete one.
///
/// It also counts the body as delivered whole, here and not in the pump:
/// hyper stops polling a body of known length once its last byte went out
/// (and drops it), so the pump's `End` may find nobody listening although
/// the client got everything.
struct ChannelBody {
    /// A piece read before the head went out, handed over first.
    first: Option<Piece>,
    receiver: mpsc::Receiver<Piece>,
    service: Arc<Service>,
    /// Bytes still to come, when the response said how many.
    remaining: Option<u64>,
    counted: bool,
}

impl ChannelBody {
    fn completed(&mut self) {
        if !self.counted {
            self.counted = true;
            Metrics::add(&self.service.metrics.transfers_completed);
        }
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let piece = match self.first.take() {
            Some(piece) => Some(piece),
            None => std::task::ready!(self.receiver.poll_recv(cx)),
        };
        Poll::Ready(match piece {
            Some(Piece::Data(data)) => {
                let sent = data.len() as u64;
                self.service
                    .metrics
                    .bytes_to_clients
                    .fetch_add(sent, Ordering::Relaxed);
                if let Some(remaining) = &mut self.remaining {
                    *remaining = remaining.saturating_sub(sent);
                    if *remaining == 0 {
                        self.completed();
                    }
                }
                Some(Ok(Frame::data(data)))
            }
            Some(Piece::End) => {
                self.completed();
                None
            }
            Some(Piece::Abort(why)) => Some(Err(why.into())),
            None => Some(Err("the response was not completed".into())),
        })
    }
}

/// How forwarding one back-end's body ended.
enum Outcome {
    Done,
    /// Every byte owed went out, but the back-end's connection failed or
    /// stalled after it: done, and the connection is not kept.
    Delivered,
    /// A body that cannot be resumed paused too long.
    Idle,
    ClientGone,
    ClientStalled,
    BackendFailed(String),
}

/// Counts a transfer as active for as long as it lives.
struct Active<'a>(&'a Metrics);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active_transfers.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Pump {
    service: Arc<Service>,
    head: RequestHead,
    backend: SocketAddr,
    /// The connection the body comes on, to rest once it was read whole.
    connection: Option<Sender>,
    tried: Vec<SocketAddr>,
    transfer: Option<Transfer>,
    /// When the last back-end failure was noticed, until bytes flow again.
    failed_at: Option<Instant>,
}

impl Pump {
    /// Forwards `body` through `sender`, resuming it elsewhere when its
    /// back-end fails; `ended` is how a first read, made before the pump
    /// started, ended.
    async fn run(
        mut self,
        mut body: Incoming,
        sender: mpsc::Sender<Piece>,
        mut ended: Option<Outcome>,
    ) {
        let service = self.service.clone();
        let metrics = &service.metrics;
        Metrics::add(&metrics.active_transfers);
        let _active = Active(metrics);
        loop {
            let outcome = match ended.take() {
                Some(outcome) => outcome,
                None => self.forward(&mut body, &sender).await,
            };
            let reason = match outcome {
                done @ (Outcome::Done | Outcome::Delivered) => {
                    if let (Outcome::Done, Some(connection)) = (done, self.connection.take()) {
                        service.rest(self.backend, connection);
                    }
                    // Counted by the client's side (`ChannelBody`), which
                    // may be gone already: hyper drops a body of known
                    // length after its last byte.
                    let _ = sender.send(Piece::End).await;
                    return;
                }
                Outcome::Idle => {
                    Metrics::add(&metrics.aborted);
                    let _ = sender.send(Piece::Abort("the back-end went idle")).await;
                    return;
                }
                Outcome::ClientGone => {
                    Metrics::add(&metrics.client_gone);
                    return;
                }
                Outcome::ClientStalled => {
                    Metrics::add(&metrics.client_stalled);
                    return;
                }
                Outcome::BackendFailed(reason) => reason,
            };
            Metrics::add(&metrics.backend_failures);
            service.failed(self.backend);
            if sender.is_closed() {
                // Nobody to resume for.
                Metrics::add(&metrics.client_gone);
                return;
            }
            self.failed_at = Some(Instant::now());
            let delivered = self.transfer.as_ref().map_or(0, Transfer::delivered_so_far);
            eprintln!(
                "ringgate-l7d: {}: back-end {} failed after {delivered} bytes of {}: {reason}",
                service.listen, self.backend, self.head.uri
            );
            match self.resume().await {
                Some(resumed) => body = resumed,
                None => {
                    Metrics::add(&metrics.aborted);
                    eprintln!(
                        "ringgate-l7d: {}: {} aborted after {delivered} bytes: no back-end could resume it",
                        service.listen, self.head.uri
                    );
                    // The error makes hyper end the client's response short.
                    let _ = sender
                        .send(Piece::Abort("no back-end could finish the response"))
                        .await;
                    return;
                }
            }
        }
    }

    async fn forward(&mut self, body: &mut Incoming, sender: &mpsc::Sender<Piece>) -> Outcome {
        let client_stall = self.service.settings.client_stall;
        loop {
            let data = match self.next_data(body).await {
                Ok(data) => data,
                Err(ended) => return ended,
            };
            match timeout(client_stall, sender.send(Piece::Data(data))).await {
                Err(_) => return Outcome::ClientStalled,
                Ok(Err(_)) => return Outcome::ClientGone,
                Ok(Ok(())) => {}
            }
        }
    }

    /// The body's next bytes, counted against the transfer; or how the
    /// body ended.
    async fn next_data(&mut self, body: &mut Incoming) -> Result<Bytes, Outcome> {
        let settings = &self.service.settings;
        // A resumable body that stalls is taken elsewhere; any other body
        // may pause as long as a response head may take (a slow report, a
        // long poll) and then ends short without blaming the back-end.
        let (stall, blame) = match self.transfer {
            Some(_) => (settings.stall, true),
            None => (settings.response, false),
        };
        loop {
            let frame = match timeout(stall, body.frame()).await {
                Err(_) if !blame => return Err(Outcome::Idle),
                Err(_) => return Err(self.failed_unless_complete("stalled".into())),
                Ok(None) => {
                    return Err(match self.transfer.as_ref().and_then(Transfer::remaining) {
                        Some(remaining) if remaining > 0 => {
                            Outcome::BackendFailed(format!("ended {remaining} bytes early"))
                        }
                        _ => Outcome::Done,
                    })
                }
                Ok(Some(Err(error))) => return Err(self.failed_unless_complete(error.to_string())),
                Ok(Some(Ok(frame))) => frame,
            };
            // Trailers are not forwarded: the client's framing is ours.
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if let Some(transfer) = &mut self.transfer {
                let length = data.len() as u64;
                if transfer
                    .remaining()
                    .is_some_and(|remaining| length > remaining)
                {
                    return Err(Outcome::BackendFailed("sent more than the range".into()));
                }
                transfer.delivered(length);
            }
            if let Some(failed_at) = self.failed_at.take() {
                let gap = u64::try_from(failed_at.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.service
                    .metrics
                    .last_resume_gap_us
                    .store(gap, Ordering::Relaxed);
            }
            return Ok(data);
        }
    }

    /// A body read whole by its first read, handed to the client without
    /// the pump: counted as `ChannelBody` and `run` would count it.
    fn delivered_whole(mut self, bytes: usize) {
        let metrics = &self.service.metrics;
        metrics
            .bytes_to_clients
            .fetch_add(bytes as u64, Ordering::Relaxed);
        Metrics::add(&metrics.transfers_completed);
        if let Some(connection) = self.connection.take() {
            self.service.rest(self.backend, connection);
        }
    }

    /// A failure after the last byte owed was delivered is no failure.
    fn failed_unless_complete(&self, reason: String) -> Outcome {
        match self.transfer.as_ref().and_then(Transfer::remaining) {
            Some(0) => Outcome::Delivered,
            _ => Outcome::BackendFailed(reason),
        }
    }

    /// Asks other back-ends for the rest of the body, at most `max_resumes`
    /// times; returns the body of the first answer that passes the checks.
    async fn resume(&mut self) -> Option<Incoming> {
        let service = self.service.clone();
        let metrics = &service.metrics;
        let transfer = self.transfer.as_mut()?;
        let ask = transfer.resume_request()?;
        for _ in 0..service.settings.max_resumes {
            let backend = service.pick(&self.tried)?;
            self.tried.push(backend);
            Metrics::add(&metrics.resume_attempts);
            let request = self.head.resume(&ask)?;
            let rebuild = || self.head.resume(&ask);
            let response = match service
                .exchange(backend, request, Some(&rebuild), None)
                .await
            {
                Ok(exchanged) => exchanged,
                Err(error) => {
                    service.failed(backend);
                    eprintln!(
                        "ringgate-l7d: {}: resume at {backend} failed: {error}",
                        service.listen
                    );
                    continue;
                }
            };
            let (response, connection) = response;
            let (parts, body) = response.into_parts();
            match transfer.accept_resumed(parts.status, &parts.headers) {
                Ok(()) => {
                    self.connection = Some(connection);
                    Metrics::add(&metrics.resumed);
                    eprintln!(
                        "ringgate-l7d: {}: {} resumed at {backend} with {}",
                        service.listen, self.head.uri, ask.range
                    );
                    self.backend = backend;
                    return Some(body);
                }
                Err(refusal) => {
                    Metrics::add(metrics.refused(refusal));
                    eprintln!(
                        "ringgate-l7d: {}: resume at {backend} refused: {refusal}",
                        service.listen
                    );
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(headers: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_removed() {
        let mut headers = map(&[
            ("connection", "close, X-Trace"),
            ("connection", "keep-alive"),
            ("x-trace", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("proxy-connection", "keep-alive"),
            ("x-kept", "yes"),
            ("content-length", "3"),
        ]);
        remove_hop_by_hop(&mut headers);
        assert_eq!(names(&headers), ["content-length", "x-kept"]);
    }

    #[test]
    fn a_message_without_hop_by_hop_headers_keeps_every_header() {
        let mut headers = map(&[("host", "a"), ("x-one", "1"), ("x-one", "2")]);
        remove_hop_by_hop(&mut headers);
        assert_eq!(names(&headers), ["host", "x-one"]);
        assert_eq!(headers.get_all("x-one").iter().count(), 2);
    }
}
