use std::collections::HashMap;

/// Id lookups run once per link (10^8 times on large inputs); ids are not
/// attacker-chosen keys, so a fast non-cryptographic hash is the right trade.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

use crate::Link;

/// Interned strings (receiver ids, transmitter ids, reasons): links repeat a
/// few thousand ids millions of times, so the table stores a `u32` code each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdPool {
    names: Vec<String>,
    /// Codes of the names that fit an [`InlineKey`] (nearly all ids: EUIs,
    /// device and gateway names).
    short: FastMap<InlineKey, u32>,
    /// Codes of the longer names (Helium's 51-character addresses).
    long: FastMap<String, u32>,
}

/// A name of at most [`InlineKey::MAX_LEN`] bytes stored inside the hash
/// table's slot. A lookup is memory-bound (tens of thousands of ids, one
/// random slot per link): with the bytes in the slot it touches one cache
/// line instead of a slot and then a separately allocated string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct InlineKey {
    /// The name's bytes, zero-padded; the last byte holds the length.
    bytes: [u8; 24],
}

impl InlineKey {
    const MAX_LEN: usize = 23;

    fn new(name: &str) -> Option<Self> {
        let len = name.len();
        if len > Self::MAX_LEN {
            return None;
        }
        let mut bytes = [0_u8; 24];
        bytes[..len].copy_from_slice(name.as_bytes());
        // len ≤ 23 fits a byte; the length byte keeps "a" and "a\0" apart.
        bytes[Self::MAX_LEN] = len as u8;
        Some(Self { bytes })
    }
}

impl IdPool {
    /// The code of `name`, adding it when new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(code) = self.code(name) {
            return code;
        }
        let code = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_owned());
        match InlineKey::new(name) {
            Some(key) => self.short.insert(key, code),
            None => self.long.insert(name.to_owned(), code),
        };
        code
    }

    /// The code of `name` when it was interned.
    #[must_use]
    pub fn code(&self, name: &str) -> Option<u32> {
        match InlineKey::new(name) {
            Some(key) => self.short.get(&key).copied(),
            None => self.long.get(name).copied(),
        }
    }

    /// The string behind `code`; empty for an unknown code.
    #[must_use]
    pub fn name(&self, code: u32) -> &str {
        self.names.get(code as usize).map_or("", String::as_str)
    }

    /// All names, indexed by code.
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of distinct names.
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no name was interned.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// For each code, its rank in lexicographic order of the names, so a
    /// comparison of ranks orders like a comparison of the strings.
    #[must_use]
    pub fn lexicographic_ranks(&self) -> Vec<u32> {
        let mut order: Vec<usize> = (0..self.names.len()).collect();
        order.sort_by(|&a, &b| self.names[a].cmp(&self.names[b]));
        let mut ranks = vec![0_u32; self.names.len()];
        for (rank, code) in order.into_iter().enumerate() {
            ranks[code] = u32::try_from(rank).unwrap_or(u32::MAX);
        }
        ranks
    }
}

/// An optional column that allocates nothing while no row has a value:
/// most sources lack most optional fields, and tables reach 10^8 rows.
#[derive(Debug, Clone, PartialEq)]
pub struct OptColumn<T> {
    values: Vec<Option<T>>,
}

impl<T> Default for OptColumn<T> {
    fn default() -> Self {
        Self { values: Vec::new() }
    }
}

impl<T: Copy> OptColumn<T> {
    /// Append the value of row `row` (the table's length before the push).
    pub fn push(&mut self, row: usize, value: Option<T>) {
        if value.is_none() && self.values.is_empty() {
            return;
        }
        if self.values.len() < row {
            self.values.resize(row, None);
        }
        self.values.push(value);
    }

    /// The value of row `i`.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<T> {
        self.values.get(i).copied().flatten()
    }

    /// True when some row has a value.
    #[must_use]
    pub fn any(&self) -> bool {
        !self.values.is_empty()
    }

    /// Replace every value by `map(value)` (to recode interned ids).
    pub fn map_in_place(&mut self, map: impl Fn(T) -> T) {
        for value in self.values.iter_mut().flatten() {
            *value = map(*value);
        }
    }

    /// Append `other`'s `other_len` rows, after this column's `self_len` rows,
    /// mapping each value (to recode interned ids).
    pub fn extend_from(
        &mut self,
        self_len: usize,
        other: &Self,
        other_len: usize,
        map: impl Fn(T) -> T,
    ) {
        if !other.any() {
            if self.any() {
                self.values.resize(self_len + other_len, None);
            }
            return;
        }
        self.values.resize(self_len, None);
        self.values
            .extend((0..other_len).map(|i| other.get(i).map(&map)));
    }
}

/// An optional `f64` column: NaN marks a missing value (readers reject NaN
/// input, so it cannot be confused with data); allocated on the first value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptF64Column {
    values: Vec<f64>,
}

impl OptF64Column {
    /// Append the value of row `row` (the table's length before the push).
    pub fn push(&mut self, row: usize, value: Option<f64>) {
        match value {
            None if self.values.is_empty() => {}
            None => self.values.push(f64::NAN),
            Some(v) => {
                if self.values.len() < row {
                    self.values.resize(row, f64::NAN);
                }
                self.values.push(v);
            }
        }
    }

    /// The value of row `i`.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<f64> {
        self.values.get(i).copied().filter(|v| !v.is_nan())
    }

    /// True when some row has a value.
    #[must_use]
    pub fn any(&self) -> bool {
        !self.values.is_empty()
    }

    /// Append `other`'s `other_len` rows after this column's `self_len` rows.
    pub fn extend_from(&mut self, self_len: usize, other: &Self, other_len: usize) {
        if !other.any() {
            if self.any() {
                self.values.resize(self_len + other_len, f64::NAN);
            }
            return;
        }
        self.values.resize(self_len, f64::NAN);
        self.values.extend_from_slice(&other.values);
        self.values.resize(self_len + other_len, f64::NAN);
    }
}

fn recode(from: &IdPool, into: &mut IdPool) -> Vec<u32> {
    from.names().iter().map(|name| into.intern(name)).collect()
}

/// Links column by column: the form in which ingest hands links on.
///
/// Ids and the source's invalid reasons are interned in [`IdPool`]s; every
/// link remembers the input it came from and its row (line or record) there.
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)] // the columns are the fields of `Link`
pub struct LinkTable {
    pub tx_lat: Vec<f64>,
    pub tx_lon: Vec<f64>,
    pub rx_lat: Vec<f64>,
    pub rx_lon: Vec<f64>,
    pub rssi_dbm: OptF64Column,
    pub snr_db: OptF64Column,
    pub freq_mhz: OptF64Column,
    pub spreading_factor: OptColumn<u8>,
    pub time_unix_ms: OptColumn<i64>,
    pub tx_id: OptColumn<u32>,
    pub rx_id: OptColumn<u32>,
    pub frame_counter: OptColumn<u32>,
    pub tx_eirp_dbm: OptF64Column,
    pub tx_height_agl_m: OptF64Column,
    pub rx_height_agl_m: OptF64Column,
    pub tx_gain_dbi: OptF64Column,
    pub rx_gain_dbi: OptF64Column,
    pub heard: Vec<bool>,
    pub valid: Vec<bool>,
    pub invalid_reason: OptColumn<u32>,
    /// Index of the input (file) each link came from, into `inputs`.
    pub input_index: Vec<u16>,
    /// The row of each link in its input: the 1-based line of a CSV file, the
    /// record number of JSON and Parquet inputs.
    pub input_row: Vec<u64>,
    /// Transmitter ids.
    pub tx_ids: IdPool,
    /// Receiver ids.
    pub rx_ids: IdPool,
    /// Invalid reasons given by the source.
    pub reasons: IdPool,
    /// Names of the inputs.
    pub inputs: Vec<String>,
}

impl LinkTable {
    /// Number of links.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tx_lat.len()
    }

    /// True when the table holds no link.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tx_lat.is_empty()
    }

    /// Reserve room for `additional` more links in the always-present columns.
    pub fn reserve(&mut self, additional: usize) {
        self.tx_lat.reserve(additional);
        self.tx_lon.reserve(additional);
        self.rx_lat.reserve(additional);
        self.rx_lon.reserve(additional);
        self.heard.reserve(additional);
        self.valid.reserve(additional);
        self.input_index.reserve(additional);
        self.input_row.reserve(additional);
    }

    /// Register an input name; links pushed afterwards with `push` carry it.
    pub fn add_input(&mut self, name: &str) -> u16 {
        self.inputs.push(name.to_owned());
        u16::try_from(self.inputs.len() - 1).unwrap_or(u16::MAX)
    }

    fn current_input(&self) -> u16 {
        u16::try_from(self.inputs.len().saturating_sub(1)).unwrap_or(u16::MAX)
    }

    /// Append a link found at `input_row` of the current input.
    pub fn push(&mut self, link: &Link, input_row: u64) {
        let tx_id = link.tx_id.as_deref().map(|s| self.tx_ids.intern(s));
        let rx_id = link.rx_id.as_deref().map(|s| self.rx_ids.intern(s));
        let reason = link
            .invalid_reason
            .as_deref()
            .map(|s| self.reasons.intern(s));
        self.push_coded(link, tx_id, rx_id, reason, input_row);
    }

    /// Append a link whose ids were interned already (fast paths).
    pub fn push_coded(
        &mut self,
        link: &Link,
        tx_id: Option<u32>,
        rx_id: Option<u32>,
        invalid_reason: Option<u32>,
        input_row: u64,
    ) {
        let row = self.len();
        self.tx_lat.push(link.tx_lat);
        self.tx_lon.push(link.tx_lon);
        self.rx_lat.push(link.rx_lat);
        self.rx_lon.push(link.rx_lon);
        self.rssi_dbm.push(row, link.rssi_dbm);
        self.snr_db.push(row, link.snr_db);
        self.freq_mhz.push(row, link.freq_mhz);
        self.spreading_factor.push(row, link.spreading_factor);
        self.time_unix_ms.push(row, link.time_unix_ms);
        self.tx_id.push(row, tx_id);
        self.rx_id.push(row, rx_id);
        self.frame_counter.push(row, link.frame_counter);
        self.tx_eirp_dbm.push(row, link.tx_eirp_dbm);
        self.tx_height_agl_m.push(row, link.tx_height_agl_m);
        self.rx_height_agl_m.push(row, link.rx_height_agl_m);
        self.tx_gain_dbi.push(row, link.tx_gain_dbi);
        self.rx_gain_dbi.push(row, link.rx_gain_dbi);
        self.heard.push(link.heard);
        self.valid.push(link.valid);
        self.invalid_reason.push(row, invalid_reason);
        self.input_index.push(self.current_input());
        self.input_row.push(input_row);
    }

    /// The link at row `i` (panics when out of range, like slice indexing).
    #[must_use]
    pub fn get(&self, i: usize) -> Link {
        Link {
            tx_lat: self.tx_lat[i],
            tx_lon: self.tx_lon[i],
            rx_lat: self.rx_lat[i],
            rx_lon: self.rx_lon[i],
            rssi_dbm: self.rssi_dbm.get(i),
            snr_db: self.snr_db.get(i),
            freq_mhz: self.freq_mhz.get(i),
            spreading_factor: self.spreading_factor.get(i),
            time_unix_ms: self.time_unix_ms.get(i),
            tx_id: self.tx_id.get(i).map(|c| self.tx_ids.name(c).to_owned()),
            rx_id: self.rx_id.get(i).map(|c| self.rx_ids.name(c).to_owned()),
            frame_counter: self.frame_counter.get(i),
            tx_eirp_dbm: self.tx_eirp_dbm.get(i),
            tx_height_agl_m: self.tx_height_agl_m.get(i),
            rx_height_agl_m: self.rx_height_agl_m.get(i),
            tx_gain_dbi: self.tx_gain_dbi.get(i),
            rx_gain_dbi: self.rx_gain_dbi.get(i),
            heard: self.heard[i],
            valid: self.valid[i],
            invalid_reason: self
                .invalid_reason
                .get(i)
                .map(|c| self.reasons.name(c).to_owned()),
        }
    }

    /// Renumber the interned ids so that codes follow the order in which the
    /// links first use them, as sequential interning would have numbered
    /// them: parallel parsing interns in whatever order its workers race to,
    /// and outputs must not depend on that.
    pub fn renumber_ids_by_first_use(&mut self) {
        fn renumber(column: &mut OptColumn<u32>, pool: &mut IdPool, rows: usize) {
            if !column.any() {
                return;
            }
            let mut new_code = vec![u32::MAX; pool.len()];
            let mut renumbered = IdPool::default();
            for i in 0..rows {
                if let Some(code) = column.get(i)
                    && let Some(slot) = new_code.get_mut(code as usize)
                    && *slot == u32::MAX
                {
                    *slot = renumbered.intern(pool.name(code));
                }
            }
            column.map_in_place(|code| new_code.get(code as usize).copied().unwrap_or(code));
            *pool = renumbered;
        }
        let rows = self.len();
        renumber(&mut self.tx_id, &mut self.tx_ids, rows);
        renumber(&mut self.rx_id, &mut self.rx_ids, rows);
        renumber(&mut self.invalid_reason, &mut self.reasons, rows);
    }

    /// Append every link of `other`, keeping its inputs' names (an input of
    /// the same name is the same input) and rows, and recoding its interned
    /// ids. Column-wise: this is the merge step of parallel parsing.
    pub fn append(&mut self, other: &LinkTable) {
        let tx_map = recode(&other.tx_ids, &mut self.tx_ids);
        let rx_map = recode(&other.rx_ids, &mut self.rx_ids);
        let reason_map = recode(&other.reasons, &mut self.reasons);
        let via = |map: Vec<u32>| move |c: u32| map.get(c as usize).copied().unwrap_or(c);
        self.append_with_codes(other, via(tx_map), via(rx_map), via(reason_map));
    }

    /// Append every link of `other` like [`LinkTable::append`], with its
    /// transmitter, receiver and reason codes turned into codes of this
    /// table's pools by the given maps (the identity when `other` was coded
    /// against these pools already; its own pools are then not read).
    pub fn append_with_codes(
        &mut self,
        other: &LinkTable,
        tx_code: impl Fn(u32) -> u32,
        rx_code: impl Fn(u32) -> u32,
        reason_code: impl Fn(u32) -> u32,
    ) {
        let (n, m) = (self.len(), other.len());
        let input_map: Vec<u16> = other
            .inputs
            .iter()
            .map(|name| match self.inputs.iter().position(|i| i == name) {
                Some(i) => u16::try_from(i).unwrap_or(u16::MAX),
                None => self.add_input(name),
            })
            .collect();
        self.tx_lat.extend_from_slice(&other.tx_lat);
        self.tx_lon.extend_from_slice(&other.tx_lon);
        self.rx_lat.extend_from_slice(&other.rx_lat);
        self.rx_lon.extend_from_slice(&other.rx_lon);
        self.rssi_dbm.extend_from(n, &other.rssi_dbm, m);
        self.snr_db.extend_from(n, &other.snr_db, m);
        self.freq_mhz.extend_from(n, &other.freq_mhz, m);
        self.spreading_factor
            .extend_from(n, &other.spreading_factor, m, |v| v);
        self.time_unix_ms
            .extend_from(n, &other.time_unix_ms, m, |v| v);
        self.tx_id.extend_from(n, &other.tx_id, m, tx_code);
        self.rx_id.extend_from(n, &other.rx_id, m, rx_code);
        self.frame_counter
            .extend_from(n, &other.frame_counter, m, |v| v);
        self.tx_eirp_dbm.extend_from(n, &other.tx_eirp_dbm, m);
        self.tx_height_agl_m
            .extend_from(n, &other.tx_height_agl_m, m);
        self.rx_height_agl_m
            .extend_from(n, &other.rx_height_agl_m, m);
        self.tx_gain_dbi.extend_from(n, &other.tx_gain_dbi, m);
        self.rx_gain_dbi.extend_from(n, &other.rx_gain_dbi, m);
        self.heard.extend_from_slice(&other.heard);
        self.valid.extend_from_slice(&other.valid);
        self.invalid_reason
            .extend_from(n, &other.invalid_reason, m, reason_code);
        self.input_index.extend(
            other
                .input_index
                .iter()
                .map(|&i| input_map.get(usize::from(i)).copied().unwrap_or(i)),
        );
        self.input_row.extend_from_slice(&other.input_row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn renumbering_gives_codes_in_order_of_first_use() {
        let with = |tx: &str, rx: &str| Link {
            tx_id: Some(tx.to_owned()),
            rx_id: Some(rx.to_owned()),
            ..Link::heard(1.0, 2.0, 3.0, 4.0, -100.0)
        };
        let mut t = LinkTable::default();
        t.add_input("a.csv");
        // Pools seeded in another order than the links use them (as shared
        // pools of parallel workers are), with one name no link uses.
        for name in ["d3", "unused", "d1", "d2"] {
            t.tx_ids.intern(name);
        }
        t.rx_ids.intern("g2");
        t.rx_ids.intern("g1");
        for (row, (tx, rx)) in [("d1", "g1"), ("d2", "g2"), ("d1", "g2"), ("d3", "g1")]
            .into_iter()
            .enumerate()
        {
            t.push(&with(tx, rx), row as u64 + 2);
        }
        let links: Vec<Link> = (0..t.len()).map(|i| t.get(i)).collect();
        t.renumber_ids_by_first_use();
        assert_eq!(t.tx_ids.names(), ["d1", "d2", "d3"]);
        assert_eq!(t.rx_ids.names(), ["g1", "g2"]);
        assert_eq!((0..t.len()).map(|i| t.get(i)).collect::<Vec<_>>(), links);
        let mut sequential = LinkTable::default();
        sequential.add_input("a.csv");
        for (i, link) in links.iter().enumerate() {
            sequential.push(link, i as u64 + 2);
        }
        assert_eq!(t, sequential, "as if interned one link after another");
    }

    #[test]
    fn optional_columns_allocate_only_when_used() {
        let mut t = LinkTable::default();
        t.add_input("a.csv");
        let link = Link::heard(1.0, 2.0, 3.0, 4.0, -100.0);
        t.push(&link, 2);
        t.push(
            &Link {
                snr_db: Some(-3.5),
                ..link.clone()
            },
            3,
        );
        t.push(&link, 4);
        assert!(!t.freq_mhz.any());
        let snr: Vec<Option<f64>> = (0..3).map(|i| t.snr_db.get(i)).collect();
        assert_eq!(snr, vec![None, Some(-3.5), None]);
        assert_eq!(t.get(1).snr_db, Some(-3.5));
        assert_eq!(t.input_row, vec![2, 3, 4]);
    }

    #[test]
    fn lexicographic_ranks_order_like_strings() {
        let mut pool = IdPool::default();
        for name in ["b", "c", "a"] {
            pool.intern(name);
        }
        assert_eq!(pool.lexicographic_ranks(), vec![1, 2, 0]);
        assert_eq!(pool.intern("c"), 1);
    }

    #[test]
    fn names_short_and_long_keep_their_codes() {
        // Around the inline limit (23 bytes), a NUL that must not look like
        // padding, a multi-byte character, a Helium-length address.
        let names = [
            "a",
            "a\0",
            "",
            "eui-0000024b080e0d75",
            "x".repeat(23).as_str(),
            "x".repeat(24).as_str(),
            "ü".repeat(12).as_str(),
            "112qB3YaH5bZkCnKA5uRH7tBtGNv2Y5B4smv1jsmvGUzgKT71QpE",
        ]
        .map(str::to_owned);
        let mut pool = IdPool::default();
        let codes: Vec<u32> = names.iter().map(|n| pool.intern(n)).collect();
        assert_eq!(codes, (0..8).collect::<Vec<u32>>());
        for (name, &code) in names.iter().zip(&codes) {
            assert_eq!(pool.code(name), Some(code), "{name:?}");
            assert_eq!(pool.intern(name), code);
            assert_eq!(pool.name(code), name);
        }
        assert_eq!(pool.code("x".repeat(22).as_str()), None);
        assert_eq!(pool.code("a\0\0"), None);
        assert_eq!(pool.len(), 8);
    }

    proptest! {
        #[test]
        fn get_returns_what_was_pushed(
            rssi in -150.0_f64..0.0,
            snr in proptest::option::of(-40.0_f64..40.0),
            sf in proptest::option::of(7_u8..=12),
            id in proptest::option::of("[a-z]{1,8}"),
            n_before in 0_usize..4,
        ) {
            let mut t = LinkTable::default();
            t.add_input("x");
            let plain = Link::heard(10.0, 11.0, 12.0, 13.0, -90.0);
            for _ in 0..n_before { t.push(&plain, 0); }
            let link = Link { snr_db: snr, spreading_factor: sf, rx_id: id, ..Link::heard(1.0, 2.0, 3.0, 4.0, rssi) };
            t.push(&link, 7);
            prop_assert_eq!(t.get(n_before), link.clone());
            let mut copy = LinkTable::default();
            copy.append(&t);
            prop_assert_eq!(copy.get(n_before), t.get(n_before));
            prop_assert_eq!(copy.len(), n_before + 1);
            copy.append(&t);
            prop_assert_eq!(copy.get(2 * n_before + 1), link.clone());
            prop_assert_eq!(copy.inputs.len(), 1);
            prop_assert_eq!(copy.input_index[2 * n_before + 1], 0);
            let mut other = LinkTable::default();
            other.add_input("y");
            other.push(&link, 9);
            copy.append(&other);
            prop_assert_eq!(copy.inputs.len(), 2);
            prop_assert_eq!(copy.input_index[copy.len() - 1], 1);
        }
    }
}
