//! The Redis keys tests reach into (to make Redis forget a sale, lose a record,
//! or hold an older copy of the settings), in the layout src/store/keys.rs
//! gives them; the crate keeps its own to itself, so this is the tests' one copy.

pub struct Keys<'a> {
    prefix: &'a str,
}

impl<'a> Keys<'a> {
    pub fn new(prefix: &'a str) -> Self {
        Keys { prefix }
    }

    /// A `KEYS` pattern of every key under the prefix.
    pub fn every_key(&self) -> String {
        format!("{{{}:*", self.prefix)
    }

    /// One of a queue's keys: `waiting`, `settings`, ...
    pub fn queue(&self, queue: &str, name: &str) -> String {
        format!("{{{}:q:{queue}}}:{name}", self.prefix)
    }

    /// The hash of a queue's user records that holds `user`'s (32 to a hash).
    pub fn user_record_bucket(&self, queue: &str, user: i64) -> String {
        self.queue(queue, &format!("meta:{}", user.div_euclid(32)))
    }

    /// The set of a schedule's sold seats.
    pub fn sold(&self, schedule: i64) -> String {
        format!("{{{}:s:{schedule}}}:sold", self.prefix)
    }

    /// The counter that tells every instance to reload the catalog.
    pub fn catalog_version(&self) -> String {
        format!("{{{}:catalog}}:version", self.prefix)
    }
}
