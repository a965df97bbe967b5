//! C2SP tlog-tiles paths: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`.

use crate::LogError;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels spanned by one tile level.
pub const TILE_HEIGHT: u8 = 8;

/// Which tile a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileKind {
    /// Hashes at tile level L (tree level 8·L).
    Hashes(u8),
    /// An entry bundle.
    Entries,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TilePath {
    pub kind: TileKind,
    pub index: u64,
    /// 1..=256; 256 is a full tile.
    pub width: u16,
}

impl TilePath {
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Parses the part of the URL after `tile/`. Only the canonical spelling is
    /// accepted, so every tile has exactly one URL (and one cache entry).
    pub fn parse(path: &str) -> Result<Self, LogError> {
        let bad = |why: &str| LogError::malformed("tile path", why.to_string());
        let (head, rest) = path
            .split_once('/')
            .ok_or_else(|| bad("missing tile index"))?;
        let kind = if head == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(head, 63).ok_or_else(|| bad("level must be 0-63"))?;
            TileKind::Hashes(level as u8)
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let w = parse_decimal(w, 255)
                    .filter(|&w| w >= 1)
                    .ok_or_else(|| bad("partial width must be 1-255"))?;
                (i, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = parse_index(index_part).ok_or_else(|| bad("malformed tile index"))?;
        Ok(TilePath { kind, index, width })
    }

    pub fn to_path(&self) -> String {
        let head = match self.kind {
            TileKind::Entries => "entries".to_string(),
            TileKind::Hashes(l) => l.to_string(),
        };
        let mut s = format!("tile/{head}/{}", format_index(self.index));
        if !self.is_full() {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }
}

fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    s.parse().ok().filter(|&v| canonical && v <= max)
}

/// `1234067` -> `x001/x234/067`.
pub fn format_index(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        parts.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

fn parse_index(s: &str) -> Option<u64> {
    let n = s.split('/').try_fold(0u64, |acc, part| {
        let digits = part.strip_prefix('x').unwrap_or(part);
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        acc.checked_mul(1000)?.checked_add(digits.parse().ok()?)
    })?;
    (format_index(n) == s).then_some(n)
}

/// Widths of the tiles a tree of `size` leaves has at tile level `level`: the
/// number of full tiles and the width of the trailing partial tile (0 if none).
pub fn tiles_at(size: u64, level: u8) -> (u64, u64) {
    let span = 8 * u32::from(level);
    let hashes = if span >= 64 { 0 } else { size >> span };
    (hashes / TILE_WIDTH, hashes % TILE_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding_matches_spec_vector() {
        assert_eq!(format_index(1234067), "x001/x234/067");
        assert_eq!(format_index(5), "005");
        assert_eq!(format_index(1000), "x001/000");
        assert_eq!(parse_index("x001/x234/067"), Some(1234067));
    }

    #[test]
    fn paths_round_trip() {
        for p in [
            "tile/0/000",
            "tile/2/x001/x234/067.p/17",
            "tile/entries/012.p/255",
            "tile/63/000",
        ] {
            let t = TilePath::parse(p.strip_prefix("tile/").unwrap()).unwrap();
            assert_eq!(t.to_path(), p);
        }
    }

    #[test]
    fn non_canonical_or_malformed_paths_are_refused() {
        for p in [
            "",
            "0",
            "0/",
            "64/000",
            "00/000",
            "-1/000",
            "0/0",
            "0/1234",
            "0/x000/001",
            "0/001/002",
            "0/x001",
            "0/x1/002",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/010",
            "0/000.p/",
            "entries/abc",
            "0/000/",
            "a/000",
            "0/99999999999999999999999",
            "0/x999/x999/x999/x999/x999/x999/x999/999",
        ] {
            assert!(TilePath::parse(p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn tile_counts_match_spec_examples() {
        assert_eq!(tiles_at(70_000, 0), (273, 112));
        assert_eq!(tiles_at(70_000, 1), (1, 17));
        assert_eq!(tiles_at(70_000, 2), (0, 1));
        assert_eq!(tiles_at(256, 0), (1, 0));
        assert_eq!(tiles_at(256, 1), (0, 1));
    }
}
