//! Cookie headers and auth headers: never panic; a value that is found is a substring of the
//! input and never contains the separator.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::auth::{basic_auth_user, bearer_token, decode_base64, encode_base64url};
use protocol::ids::{cookie_value, is_uuid, VISITOR_COOKIE};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(value) = cookie_value(text, VISITOR_COOKIE) {
        assert!(text.contains(value) && !value.contains(';') && !value.is_empty());
        let _ = is_uuid(value);
    }
    let _ = basic_auth_user(text);
    let _ = bearer_token(text);
    if let Some(bytes) = decode_base64(text) {
        let reencoded = encode_base64url(&bytes);
        assert_eq!(decode_base64(&reencoded).as_deref(), Some(bytes.as_slice()));
    }
});
