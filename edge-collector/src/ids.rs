//! Random IDs for things the collector creates (profiles, served recommendation blocks).

use worker::js_sys::{self, Function, Reflect, Uint8Array};
use worker::wasm_bindgen::JsCast;

/// Fills `out` (at most 65,536 bytes) from the runtime's `crypto.getRandomValues`, a
/// cryptographically secure source; `None` if the runtime has none.
pub fn fill_random(out: &mut [u8]) -> Option<()> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
    let fill: Function = Reflect::get(&crypto, &"getRandomValues".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let array = Uint8Array::new_with_length(out.len() as u32);
    fill.call1(&crypto, &array).ok()?;
    array.copy_to(out);
    Some(())
}

/// 12 bytes from the runtime's `crypto.getRandomValues`.
fn random_bytes() -> Option<[u8; 12]> {
    let mut bytes = [0u8; 12];
    fill_random(&mut bytes)?;
    Some(bytes)
}

/// `prefix` followed by 24 random hex digits (96 bits).
pub fn random(prefix: &str) -> String {
    let bytes =
        random_bytes().unwrap_or_else(|| [(); 12].map(|()| (js_sys::Math::random() * 256.0) as u8));
    let mut out = String::from(prefix);
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}
