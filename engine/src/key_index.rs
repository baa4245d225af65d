//! An open-addressing index from 64-bit keys (already well-mixed hashes) to dense `u32`
//! numbers, whose slot for a key can be prefetched before it is looked up: what lets
//! [`crate::recommenders::Profiles`] fetch a visitor's profile from memory while the next
//! event is being parsed. Linear probing over a power-of-two table kept at most half full, so
//! a lookup usually reads one 16-byte slot.

/// One slot: a key (0 = empty; key 0 itself is stored as 1) and its number.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u64,
    number: u32,
}

/// Keys to numbers (see the module doc). Numbers are whatever the caller inserts.
#[derive(Debug, Clone, Default)]
pub struct KeyIndex {
    slots: Vec<Slot>,
    len: usize,
}

/// Key 0 marks an empty slot: it is stored as 1 (the keys are hashes; 0 and 1 then share a
/// slot, as two colliding hashes would).
fn stored(key: u64) -> u64 {
    key.max(1)
}

/// Asks the CPU to bring the cache line at `p` in (no-op where there is no such instruction).
/// Never faults, whatever the address.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch is only a hint: it never
        // faults and reads nothing the program sees, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl KeyIndex {
    /// Keys stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn home(&self, key: u64) -> usize {
        // The high bits: a multiplicative or FNV-style hash mixes them best.
        let mask = self.slots.len() - 1;
        ((key >> 32) as usize & mask) ^ (key as usize & mask)
    }

    /// Brings the slot where `key` would be found into the cache.
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(stored(key))]);
        }
    }

    /// The number stored for `key`.
    pub fn get(&self, key: u64) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let key = stored(key);
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let s = self.slots[i];
            if s.key == key {
                return Some(s.number);
            }
            if s.key == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// The number stored for `key`, or `make()`'s, stored now.
    pub fn get_or_insert_with(&mut self, key: u64, make: impl FnOnce() -> u32) -> u32 {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let key = stored(key);
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let s = self.slots[i];
            if s.key == key {
                return s.number;
            }
            if s.key == 0 {
                let number = make();
                self.slots[i] = Slot { key, number };
                self.len += 1;
                return number;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        let mask = self.slots.len() - 1;
        for s in old.into_iter().filter(|s| s.key != 0) {
            let mut i = self.home(s.key);
            while self.slots[i].key != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_stored_through_growth_and_collisions() {
        let mut index = KeyIndex::default();
        assert_eq!(index.get(5), None);
        index.prefetch(5);
        // Keys that differ only in bits no mask of a table up to 2^20 slots reads share their
        // home slot at every size this test grows through, and probe past each other.
        let colliding = [7u64, 7 | (1 << 20), 7 | (1 << 30), 7 | (1 << 60)];
        for (n, &k) in colliding.iter().enumerate() {
            assert_eq!(index.get_or_insert_with(k, || n as u32), n as u32);
        }
        for n in 0..10_000u64 {
            let key = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            index.get_or_insert_with(key, || 100 + n as u32);
        }
        // Asking again returns the stored number without calling `make`.
        assert_eq!(index.get_or_insert_with(colliding[2], || unreachable!()), 2);
        for (n, &k) in colliding.iter().enumerate() {
            assert_eq!(index.get(k), Some(n as u32));
        }
        for n in 0..10_000u64 {
            let key = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(index.get(key), Some(100 + n as u32), "key {n}");
        }
        assert_eq!(index.len(), 10_004);
    }

    #[test]
    fn key_zero_is_a_key() {
        let mut index = KeyIndex::default();
        assert_eq!(index.get_or_insert_with(0, || 9), 9);
        assert_eq!(index.get(0), Some(9));
        assert_eq!(index.len(), 1);
        assert!(!index.is_empty());
    }
}
