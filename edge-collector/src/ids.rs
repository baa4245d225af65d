//! Random IDs for things the collector creates (profiles, served recommendation blocks).

use worker::js_sys::{self, Function, Reflect, Uint8Array};
use worker::wasm_bindgen::JsCast;

/// 12 bytes from the runtime's `crypto.getRandomValues`.
fn random_bytes() -> Option<[u8; 12]> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
    let fill: Function = Reflect::get(&crypto, &"getRandomValues".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let array = Uint8Array::new_with_length(12);
    fill.call1(&crypto, &array).ok()?;
    let mut bytes = [0u8; 12];
    array.copy_to(&mut bytes);
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
