//! The directory's memory: UUIDs in an array indexed by id, and slot numbers
//! sorted by UUID in parts, rebuilt off the lock (see the module above for
//! the layout and its figures).

use std::collections::HashMap;
use std::mem;
use std::sync::{Arc, RwLock, RwLockWriteGuard};

use uuid::Uuid;

/// Slots per chunk (16 MiB): growing never copies the slots already filled,
/// and mimalloc hands out blocks this large with no overhead and untouched
/// pages not resident, where 1 MiB ones cost 14% more.
const CHUNK_BITS: u32 = 20;
const CHUNK_MASK: usize = (1 << CHUNK_BITS) - 1;
/// An id at most this far past the last slot extends the slots; a farther one,
/// like one below `base`, is kept in `sparse` instead of allocating the gap.
const MAX_GAP: usize = 1 << 20;
/// Leading UUID bits that choose a part of the sorted slots.
const PART_BITS: u32 = 4;
const PARTS: usize = 1 << PART_BITS;
/// Users per bucket, on average: halving it halves the entries a search reads
/// and doubles the bucket table (measured at 10M users: 377 ns an `id_of` with
/// 8 a bucket and a 4 MiB table, 250 ns with 2 and 16 MiB).
const PER_BUCKET: usize = 2;

#[derive(Default)]
pub(super) struct Known {
    base: i64,
    /// Slot s is `chunks[s >> CHUNK_BITS][s & CHUNK_MASK]`.
    chunks: Vec<Arc<Vec<u128>>>,
    /// Slots in use: the highest dense id - base + 1.
    slots: usize,
    /// Part p holds the slots whose UUIDs start with the PART_BITS bits of p.
    parts: Vec<Part>,
    /// Dense users the sorted parts do not cover yet.
    pub(super) recent: HashMap<Uuid, i64>,
    /// `recent` as the running rebuild took it; empty once all parts are in.
    pub(super) merging: HashMap<Uuid, i64>,
    /// Ids outside the dense range (and a nil UUID, which marks a free slot).
    sparse: HashMap<i64, Uuid>,
    sparse_ids: HashMap<Uuid, i64>,
    /// Dense users whose chunk the running rebuild shares: copying a chunk
    /// (16 MiB) costs more than a map of the few users added meanwhile, who
    /// go into their slots when it lands.
    held: HashMap<i64, Uuid>,
    pub(super) count: usize,
    pub(super) highest: i64,
}

/// Slots sorted by UUID; bucket b (the `bits` bits after the part's) is
/// `sorted[starts[b]..starts[b + 1]]`.
#[derive(Default)]
struct Part {
    bits: u32,
    starts: Vec<u32>,
    sorted: Vec<u32>,
}

/// A UUID as its big-endian number (0 = free slot), which orders like its bytes.
fn uuid_in(chunks: &[Arc<Vec<u128>>], slot: usize) -> u128 {
    chunks[slot >> CHUNK_BITS][slot & CHUNK_MASK]
}

fn bucket(uuid: u128, bits: u32) -> usize {
    (uuid << PART_BITS).checked_shr(128 - bits).unwrap_or(0) as usize
}

/// What a rebuild sorts, taken under the write lock.
pub(super) struct Snapshot {
    chunks: Vec<Arc<Vec<u128>>>,
    slots: usize,
    bits: u32,
}

impl Part {
    /// Sorts the part's used slots of a snapshot: a counting sort by bucket,
    /// then each bucket (two slots or so) on its own, so no UUID is copied.
    fn build(snapshot: &Snapshot, part: usize) -> Part {
        let (chunks, bits) = (&snapshot.chunks[..], snapshot.bits);
        let used = || {
            let all = chunks
                .iter()
                .flat_map(|chunk| chunk.iter().copied())
                .take(snapshot.slots);
            let mine = move |&(_, uuid): &(usize, u128)| uuid != 0 && (uuid >> (128 - PART_BITS)) as usize == part;
            all.enumerate().filter(mine)
        };
        // Bucket ends first; filling each bucket from its end leaves its start.
        let mut starts = vec![0_u32; (1 << bits) + 1];
        for (_, uuid) in used() {
            starts[bucket(uuid, bits)] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut sorted = vec![0_u32; starts[1 << bits] as usize];
        for (slot, uuid) in used() {
            let end = &mut starts[bucket(uuid, bits)];
            *end -= 1;
            sorted[*end as usize] = slot as u32;
        }
        for b in 0..1 << bits {
            let part = &mut sorted[starts[b] as usize..starts[b + 1] as usize];
            part.sort_unstable_by_key(|&slot| uuid_in(chunks, slot as usize));
        }
        Part { bits, starts, sorted }
    }

    fn find(&self, chunks: &[Arc<Vec<u128>>], key: u128) -> Option<usize> {
        let b = bucket(key, self.bits);
        let (start, end) = (*self.starts.get(b)?, *self.starts.get(b + 1)?);
        let mut part = &self.sorted[start as usize..end as usize];
        // Halve a crowded bucket (time-ordered UUIDs share leading bits), then
        // scan: the scan's reads do not wait on each other, so their cache
        // misses overlap where a binary search takes them one after another.
        while part.len() > 16 {
            let (low, high) = part.split_at(part.len() / 2);
            part = if uuid_in(chunks, high[0] as usize) <= key {
                high
            } else {
                low
            };
        }
        let slot = part.iter().find(|&&slot| uuid_in(chunks, slot as usize) == key)?;
        Some(*slot as usize)
    }
}

impl Known {
    fn slot(&self, id: i64) -> Option<usize> {
        let slot = usize::try_from(id.checked_sub(self.base)?).ok()?;
        (slot < self.slots).then_some(slot)
    }

    pub(super) fn uuid_of(&self, id: i64) -> Option<Uuid> {
        match self.slot(id).map(|slot| uuid_in(&self.chunks, slot)) {
            Some(uuid) if uuid != 0 => Some(Uuid::from_u128(uuid)),
            _ => [&self.held, &self.sparse].into_iter().find_map(|map| {
                if map.is_empty() {
                    None
                } else {
                    map.get(&id).copied()
                }
            }),
        }
    }

    pub(super) fn id_of(&self, uuid: &Uuid) -> Option<i64> {
        let key = uuid.as_u128();
        let part = self.parts.get((key >> (128 - PART_BITS)) as usize);
        if let Some(slot) = part.and_then(|part| part.find(&self.chunks, key)) {
            return Some(self.base + slot as i64);
        }
        [&self.recent, &self.merging, &self.sparse_ids]
            .into_iter()
            .find_map(|map| if map.is_empty() { None } else { map.get(uuid).copied() })
    }

    /// Adds a user unless known; `bulk` leaves it out of `recent` because a
    /// rebuild follows the load. A user's UUID never changes.
    pub(super) fn insert(&mut self, id: i64, uuid: Uuid, bulk: bool) -> bool {
        if self.uuid_of(id).is_some() {
            return false;
        }
        if self.count == 0 {
            self.base = id;
        }
        let slot = id.checked_sub(self.base).and_then(|slot| usize::try_from(slot).ok());
        match slot.filter(|&slot| slot < (self.slots + MAX_GAP).min(u32::MAX as usize) && !uuid.is_nil()) {
            Some(slot) => {
                while self.chunks.len() << CHUNK_BITS <= slot {
                    // Zeroed: pages stay unresident until a user lands in them.
                    self.chunks.push(Arc::new(vec![0; CHUNK_MASK + 1]));
                }
                self.slots = self.slots.max(slot + 1);
                match Arc::get_mut(&mut self.chunks[slot >> CHUNK_BITS]) {
                    Some(chunk) => chunk[slot & CHUNK_MASK] = uuid.as_u128(),
                    None => {
                        self.held.insert(id, uuid);
                    }
                }
                if !bulk {
                    self.recent.insert(uuid, id);
                }
            }
            None => {
                self.sparse.insert(id, uuid);
                self.sparse_ids.insert(uuid, id);
            }
        }
        self.count += 1;
        self.highest = self.highest.max(id);
        true
    }

    /// Writes the users held aside during a rebuild into their slots.
    fn release_held(&mut self) {
        for (id, uuid) in mem::take(&mut self.held) {
            let slot = self.slot(id).unwrap_or(usize::MAX);
            match self.chunks.get_mut(slot >> CHUNK_BITS).and_then(Arc::get_mut) {
                Some(chunk) => chunk[slot & CHUNK_MASK] = uuid.as_u128(),
                None => {
                    self.held.insert(id, uuid);
                }
            }
        }
    }

    /// What a rebuild sorts; the users in `recent` now wait in `merging`.
    pub(super) fn snapshot(&mut self) -> Snapshot {
        self.parts.resize_with(PARTS, Part::default);
        let recent = mem::take(&mut self.recent);
        self.merging.extend(recent);
        Snapshot {
            chunks: self.chunks.clone(),
            slots: self.slots,
            bits: (self.count / PARTS / PER_BUCKET).max(1).ilog2().min(24),
        }
    }
}

/// Sorts and swaps in one part at a time; `merging` goes once all are in.
pub(super) fn rebuild(known: &RwLock<Known>, snapshot: Snapshot) {
    for p in 0..PARTS {
        let part = Part::build(&snapshot, p);
        // Freed after the lock is let go.
        let old = mem::replace(&mut write(known).parts[p], part);
        drop(old);
    }
    // Unshared again: the users held aside can go into their slots.
    drop(snapshot);
    let merged = {
        let mut known = write(known);
        known.release_held();
        mem::take(&mut known.merging)
    };
    drop(merged);
}

pub(super) fn write(known: &RwLock<Known>) -> RwLockWriteGuard<'_, Known> {
    known.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::users) fn users(ids: impl IntoIterator<Item = i64>) -> Vec<(i64, Uuid)> {
        ids.into_iter().map(|id| (id, Uuid::new_v4())).collect()
    }

    fn rebuilt(mut known: Known) -> Known {
        let snapshot = known.snapshot();
        let known = RwLock::new(known);
        rebuild(&known, snapshot);
        known.into_inner().expect("not poisoned")
    }

    fn loaded(users: &[(i64, Uuid)]) -> Known {
        let mut known = Known::default();
        for &(id, uuid) in users {
            assert!(known.insert(id, uuid, true));
        }
        rebuilt(known)
    }

    pub(in crate::users) fn assert_known(known: &Known, users: &[(i64, Uuid)]) {
        for &(id, uuid) in users {
            assert_eq!(known.uuid_of(id), Some(uuid), "{id}");
            assert_eq!(known.id_of(&uuid), Some(id), "{id}");
        }
        assert_eq!(known.count, users.len());
    }

    #[test]
    fn a_loaded_directory_answers_both_ways() {
        let users = users(1..=5000);
        let known = loaded(&users);
        assert_known(&known, &users);
        assert_eq!((known.highest, known.recent.len(), known.sparse.len()), (5000, 0, 0));
        for id in [0, 5001, 5000 + MAX_GAP as i64, -1, i64::MIN, i64::MAX] {
            assert_eq!(known.uuid_of(id), None, "{id}");
        }
        for uuid in (0..1000).map(|_| Uuid::new_v4()).chain([Uuid::nil(), Uuid::max()]) {
            assert_eq!(known.id_of(&uuid), None);
        }
    }

    #[test]
    fn ids_outside_the_dense_range_are_kept_aside() {
        let mut all = users(1000..=1999);
        let mut known = loaded(&all);
        let aside = users([999, 1, -5, 2000 + MAX_GAP as i64, i64::MAX, i64::MIN]);
        for &(id, uuid) in aside.iter().chain(&[(2500, Uuid::nil())]) {
            assert!(known.insert(id, uuid, false));
            all.push((id, uuid));
        }
        assert_eq!((known.slots, known.sparse.len(), known.recent.len()), (1000, 7, 0));
        assert_known(&known, &all);
        let mut known = rebuilt(known);
        assert_known(&known, &all);
        // An id within reach of the last slot extends the slots instead.
        assert!(known.insert(1999 + MAX_GAP as i64, Uuid::new_v4(), false));
        assert_eq!((known.slots, known.sparse.len()), (MAX_GAP + 1000, 7));
    }

    #[test]
    fn top_ups_are_found_before_during_and_after_a_rebuild() {
        let mut all = users((1..=3000).filter(|&id| id != 2000));
        let mut known = loaded(&all);
        // New users past the end, and one that committed after its successors.
        for (id, uuid) in users((3001..=3500).chain([2000])) {
            assert!(known.insert(id, uuid, false));
            all.push((id, uuid));
        }
        assert_eq!(known.recent.len(), 501);
        assert_known(&known, &all);

        let snapshot = known.snapshot();
        let during = (3501, Uuid::new_v4());
        assert!(known.insert(during.0, during.1, false));
        all.push(during);
        assert_known(&known, &all);
        // The user added during the rebuild waits beside the shared chunk.
        assert_eq!((uuid_in(&known.chunks, 3500), known.held.len()), (0, 1));
        let lock = RwLock::new(known);
        rebuild(&lock, snapshot);
        let mut known = lock.into_inner().expect("not poisoned");
        assert_eq!((known.recent.len(), known.merging.len(), known.held.len()), (1, 0, 0));
        assert_eq!(uuid_in(&known.chunks, 3500), during.1.as_u128());
        assert_known(&known, &all);
        assert!(!known.insert(3501, Uuid::new_v4(), false), "added twice");
        assert_known(&known, &all);
    }
}
