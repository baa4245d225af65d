//! Any bytes as a `POST /v1/batch` body: parsing and validation never panic, every event gets
//! exactly one outcome, and what is accepted re-validates to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::batch::{parse_batch, Checked};
use protocol::event::{validate_event, Sender};

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = parse_batch(data) else { return };
    for sender in [Sender::Browser, Sender::Server] {
        let checked = batch.validate(sender);
        assert_eq!(checked.len(), batch.events.len());
        for c in &checked {
            if let Checked::Valid(event) = c {
                let again = validate_event(&event.raw, batch.sent_at_ms, sender)
                    .expect("a valid event stays valid");
                assert_eq!(&again, event);
            }
            let _ = c.settled_verdict();
        }
    }
});
