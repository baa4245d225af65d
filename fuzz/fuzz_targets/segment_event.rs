//! Any text as one Segment event, through every entry point that reads one: the single-event
//! endpoints, event validation and the Yespo mapping. Nothing panics; derived IDs are stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::batch::parse_single;
use protocol::event::{validate_event, Sender};
use protocol::time::parse_rfc3339_ms;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_rfc3339_ms(text);
    for sender in [Sender::Browser, Sender::Server] {
        if let Ok(event) = validate_event(text, None, sender) {
            let again = validate_event(text, None, sender).expect("validation is deterministic");
            assert_eq!(event.message_id, again.message_id);
            let _ = event.is_late(0);
        }
    }
    if let Ok(single) = parse_single(data, "track") {
        let _ = validate_event(&single.raw, None, Sender::Browser);
    }
    if let Ok(value) = serde_json_value(text) {
        if let Ok(events) = protocol::yespo::events_of(value) {
            for e in &events {
                if let Ok(raw) = protocol::yespo::to_segment(e) {
                    let _ = validate_event(&raw, None, Sender::Server);
                }
            }
        }
    }
});

fn serde_json_value(text: &str) -> Result<serde_json::Value, ()> {
    serde_json::from_str(text).map_err(drop)
}
