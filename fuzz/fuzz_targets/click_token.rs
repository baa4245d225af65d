//! Click tokens: arbitrary text never verifies under a secret it was not signed with and never
//! panics; any contact ID round-trips through issue and verify; flipping any one character of a
//! valid token makes it fail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::click_token::{issue, verify};

const SECRET: &[u8] = b"fuzz-secret";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Arbitrary input: must not panic; anything accepted must carry a contact.
    if let Ok(contact) = verify(SECRET, text, 0) {
        assert!(!contact.is_empty());
    }
    // Round trip for any non-empty contact ID.
    if !text.is_empty() && text.len() <= 200 {
        let token = issue(SECRET, text, 1_000);
        assert_eq!(verify(SECRET, &token, 999).as_deref(), Ok(text));
        assert!(verify(b"another-secret", &token, 999).is_err());
        let at = data.len() % token.len();
        let mut altered: Vec<u8> = token.clone().into_bytes();
        altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
        if let Ok(altered) = String::from_utf8(altered) {
            if altered != token {
                assert!(
                    verify(SECRET, &altered, 999).is_err(),
                    "altered token accepted: {altered}"
                );
            }
        }
    }
});
