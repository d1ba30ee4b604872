//! The XML request reader: any body, read as every request type of the API.
//! Invariant: errors are fine, panics are not.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nexds::domain::prepare::PrepareRequest;
use nexds::xml::read::parse_document;
use nexds::xml::requests::{
    ChangeRequest, CompleteRequest, DeleteRequest, FromXml, PerpetuateRequest, RateBatchRequest,
    RateRequest, ResetRequest, UnperpetuateRequest, VersionPrepareRequest, parse_request,
};

fn read<T: FromXml>(body: &[u8]) {
    let _ = parse_request::<T>(body);
}

fuzz_target!(|body: &[u8]| {
    // The tree reader alone, with a root no request has.
    let _ = parse_document(body, "nex");
    // Each request type; only those of the body's root get past the root check.
    read::<PrepareRequest>(body);
    read::<VersionPrepareRequest>(body);
    read::<ChangeRequest>(body);
    read::<DeleteRequest>(body);
    read::<ResetRequest>(body);
    read::<RateRequest>(body);
    read::<RateBatchRequest>(body);
    read::<PerpetuateRequest>(body);
    read::<UnperpetuateRequest>(body);
    read::<CompleteRequest>(body);
});
