//! An open-addressing table from 64-bit keys (already well-mixed hashes) to values stored in
//! the table itself, whose slot for a key can be prefetched before it is looked up: what lets
//! [`crate::recommenders::Profiles`] fetch a visitor's profile from memory while the next
//! event is being parsed, with one cache miss (and one page) per lookup instead of one for an
//! index and another for the value. Linear probing over a power-of-two table kept at most half
//! full, so a lookup usually reads one slot.

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

/// Asks Linux to back the 2 MiB-aligned part of a large, not yet touched allocation with huge
/// pages (transparent huge pages in `madvise` mode, the usual default): a lookup at a random
/// slot of a table of tens of megabytes then misses the cache but not, as well, the TLB.
/// Elsewhere, or when the kernel declines, nothing changes.
fn huge_pages<T>(buffer: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = buffer.capacity() * std::mem::size_of::<T>();
        let start = buffer.as_ptr() as usize;
        let (first, end) = (start.next_multiple_of(HUGE), start + bytes);
        if end >= first + HUGE {
            let length = (end - first) / HUGE * HUGE;
            // SAFETY: the range lies inside the buffer's own allocation; MADV_HUGEPAGE only
            // changes how the kernel backs those pages, never their contents or mapping.
            unsafe { libc::madvise(first as *mut libc::c_void, length, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buffer;
}

/// Keys to values (see the module doc). Key 0 marks an empty slot, so key 0 is stored as 1
/// (the keys are hashes: 0 and 1 then count as one key, as two colliding hashes would).
#[derive(Debug, Clone)]
pub struct KeyTable<V> {
    slots: Vec<(u64, V)>,
    len: usize,
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable {
            slots: Vec::new(),
            len: 0,
        }
    }
}

fn stored(key: u64) -> u64 {
    key.max(1)
}

impl<V: Default> KeyTable<V> {
    /// Keys stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn home(&self, key: u64) -> usize {
        let mask = self.slots.len() - 1;
        ((key >> 32) as usize & mask) ^ (key as usize & mask)
    }

    /// Where `key` is, or the empty slot where it would go.
    fn find(&self, key: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        while self.slots[i].0 != key && self.slots[i].0 != 0 {
            i = (i + 1) & mask;
        }
        i
    }

    /// Brings the slot where `key` would be found into the cache (its first and last byte).
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if !self.slots.is_empty() {
            let slot = &self.slots[self.home(stored(key))];
            prefetch(slot);
            prefetch(
                (slot as *const (u64, V))
                    .cast::<u8>()
                    .wrapping_add(std::mem::size_of::<(u64, V)>() - 1),
            );
        }
    }

    /// The value stored for `key`.
    pub fn get(&self, key: u64) -> Option<&V> {
        if self.slots.is_empty() {
            return None;
        }
        let key = stored(key);
        let slot = &self.slots[self.find(key)];
        (slot.0 == key).then_some(&slot.1)
    }

    /// The value stored for `key`, or `make()`'s, stored now.
    pub fn get_or_insert_with(&mut self, key: u64, make: impl FnOnce() -> V) -> &mut V {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let key = stored(key);
        let i = self.find(key);
        if self.slots[i].0 == 0 {
            self.slots[i] = (key, make());
            self.len += 1;
        }
        &mut self.slots[i].1
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let mut slots = Vec::with_capacity(size);
        huge_pages(&slots);
        slots.extend(std::iter::repeat_with(|| (0, V::default())).take(size));
        let old = std::mem::replace(&mut self.slots, slots);
        for (key, value) in old.into_iter().filter(|s| s.0 != 0) {
            let i = self.find(key);
            self.slots[i] = (key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_stored_through_growth_and_collisions() {
        let mut table = KeyTable::<u32>::default();
        assert_eq!(table.get(5), None);
        table.prefetch(5);
        // Keys that differ only in bits no mask of a table up to 2^20 slots reads share their
        // home slot at every size this test grows through, and probe past each other.
        let colliding = [7u64, 7 | (1 << 20), 7 | (1 << 30), 7 | (1 << 60)];
        for (n, &k) in colliding.iter().enumerate() {
            assert_eq!(*table.get_or_insert_with(k, || n as u32), n as u32);
        }
        for n in 0..10_000u64 {
            let key = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            table.get_or_insert_with(key, || 100 + n as u32);
        }
        // Asking again returns the stored value without calling `make`; it can be changed.
        *table.get_or_insert_with(colliding[2], || unreachable!()) += 1000;
        assert_eq!(table.get(colliding[2]), Some(&1002));
        for (n, &k) in colliding.iter().enumerate().filter(|(n, _)| *n != 2) {
            assert_eq!(table.get(k), Some(&(n as u32)));
        }
        for n in 0..10_000u64 {
            let key = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(table.get(key), Some(&(100 + n as u32)), "key {n}");
        }
        assert_eq!(table.len(), 10_004);
    }

    #[test]
    fn key_zero_is_a_key() {
        let mut table = KeyTable::<u32>::default();
        assert_eq!(*table.get_or_insert_with(0, || 9), 9);
        assert_eq!(table.get(0), Some(&9));
        assert_eq!(table.len(), 1);
        assert!(!table.is_empty());
    }
}
