//! The option list: codes in arrival (or PRL) order, one entry per code.

use crate::Options;

impl Options {
    /// The value of option `code` (already concatenated per RFC 3396).
    pub fn get(&self, code: u8) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    pub fn contains(&self, code: u8) -> bool {
        self.entries.iter().any(|(c, _)| *c == code)
    }

    /// Replaces the value in place when `code` is present (keeping its
    /// position, which the reply encoder uses as priority), else appends.
    pub fn insert(&mut self, code: u8, value: Vec<u8>) {
        match self.entries.iter().position(|(c, _)| *c == code) {
            Some(at) => {
                if let Some(slot) = self.entries.get_mut(at) {
                    slot.1 = value;
                }
                // Keep one entry per code even if `entries` was edited by hand.
                let mut seen = false;
                self.entries.retain(|(c, _)| {
                    if *c != code {
                        return true;
                    }
                    let keep = !seen;
                    seen = true;
                    keep
                });
            }
            None => self.entries.push((code, value)),
        }
    }

    /// Removes option `code` (every entry of it) and returns the first value.
    pub fn remove(&mut self, code: u8) -> Option<Vec<u8>> {
        let at = self.entries.iter().position(|(c, _)| *c == code)?;
        let (_, value) = self.entries.remove(at);
        self.entries.retain(|(c, _)| *c != code);
        Some(value)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.entries.iter().map(|(c, v)| (*c, v.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<(u8, Vec<u8>)> for Options {
    /// Builds with [`Options::insert`] semantics: a repeated code replaces
    /// the earlier value in place.
    fn from_iter<I: IntoIterator<Item = (u8, Vec<u8>)>>(iter: I) -> Self {
        let mut options = Options::default();
        for (code, value) in iter {
            options.insert(code, value);
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_in_place_and_appends() {
        let mut o = Options::default();
        o.insert(1, vec![255, 255, 255, 0]);
        o.insert(3, vec![10, 0, 0, 1]);
        o.insert(1, vec![255, 255, 0, 0]);
        assert_eq!(
            o.iter().collect::<Vec<_>>(),
            vec![(1, &[255, 255, 0, 0][..]), (3, &[10, 0, 0, 1][..])]
        );
        assert_eq!(o.len(), 2);
        assert!(o.contains(3));
        assert!(!o.contains(6));
    }

    #[test]
    fn insert_collapses_hand_made_duplicates() {
        let mut o = Options {
            entries: vec![(6, vec![1]), (3, vec![2]), (6, vec![3])],
        };
        o.insert(6, vec![9]);
        assert_eq!(o.entries, vec![(6, vec![9]), (3, vec![2])]);
    }

    #[test]
    fn remove_returns_value_and_forgets_code() {
        let mut o: Options = [(12, b"host".to_vec()), (15, b"example.org".to_vec())]
            .into_iter()
            .collect();
        assert_eq!(o.remove(12), Some(b"host".to_vec()));
        assert_eq!(o.remove(12), None);
        assert_eq!(o.get(15), Some(&b"example.org"[..]));
        assert!(!o.is_empty());
        o.remove(15);
        assert!(o.is_empty());
    }
}
