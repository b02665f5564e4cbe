//! Counters of every decision the proxy makes, shown by the status socket.
//! Relaxed atomics: they are read for display, never to decide anything.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::resume::Refusal;

macro_rules! counters {
    ($($name:ident: $doc:literal,)*) => {
        #[derive(Debug, Default)]
        pub struct Metrics {
            $(#[doc = $doc] pub $name: AtomicU64,)*
        }

        impl Metrics {
            pub fn to_json(&self) -> serde_json::Value {
                let mut map = serde_json::Map::new();
                $(map.insert(stringify!($name).to_owned(), self.$name.load(Ordering::Relaxed).into());)*
                serde_json::Value::Object(map)
            }
        }
    };
}

counters! {
    connections: "client connections accepted",
    requests: "requests received from clients",
    retried_before_response: "requests sent to another back-end because one failed before answering",
    bad_gateway: "requests answered 502: no back-end answered",
    transfers_resumable: "responses started with what a resume needs",
    not_resumable: "responses started without it (method, status, validator, range)",
    transfers_completed: "response bodies delivered whole",
    backend_failures: "back-ends that failed mid-body (reset, early close, stall)",
    resume_attempts: "requests for the rest of a body sent to another back-end",
    resumed: "bodies continued from another back-end",
    refused_not_partial: "resume answers refused: not a 206",
    refused_bad_content_range: "resume answers refused: no usable single Content-Range",
    refused_range_mismatch: "resume answers refused: other bytes than asked for",
    refused_length_mismatch: "resume answers refused: another complete length",
    refused_validator_mismatch: "resume answers refused: another version of the resource",
    refused_encoding_mismatch: "resume answers refused: another content coding",
    aborted: "client responses ended short because no back-end could finish them",
    client_gone: "transfers ended because the client left",
    client_upload_failed: "requests whose body broke off on the client's side (answered 400, the back-end not blamed)",
    upload_stalled: "requests whose upload stopped moving for response_ms before its end (answered 408, nobody blamed)",
    client_stalled: "transfers ended because the client stopped reading",
    connections_stalled: "client connections closed because the client took no bytes for client_stall_ms",
    upstream_reused: "requests answered on a kept-open back-end connection",
    upstream_closed_under_request: "requests sent again on a fresh connection: the back-end closed a kept-open one as they went out",
    bytes_to_clients: "response body bytes handed to clients (the VIP's load for the cluster)",
    active_transfers: "bodies being delivered now",
    last_resume_gap_us: "microseconds from the last back-end failure to the first resumed byte",
}

impl Metrics {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counter of one kind of refused resume answer.
    pub fn refused(&self, refusal: Refusal) -> &AtomicU64 {
        match refusal {
            Refusal::NotPartial(_) => &self.refused_not_partial,
            Refusal::BadContentRange => &self.refused_bad_content_range,
            Refusal::RangeMismatch => &self.refused_range_mismatch,
            Refusal::LengthMismatch => &self.refused_length_mismatch,
            Refusal::ValidatorMismatch => &self.refused_validator_mismatch,
            Refusal::EncodingMismatch => &self.refused_encoding_mismatch,
        }
    }
}
