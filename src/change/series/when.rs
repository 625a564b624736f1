//! When each date of a series was taken: given with `--dates`, or read from the file.
//!
//! From the file, the first of these that holds a date wins:
//! 1. GDAL's `ACQUISITIONDATETIME` (the `IMAGERY` metadata domain, where GDAL's drivers
//!    for DigitalGlobe, Pleiades, SPOT, ... put the acquisition time; then the default
//!    domain, where users set it with `gdal_edit.py -mo ACQUISITIONDATETIME=...`);
//! 2. a Landsat scene or product identifier in the file name: Collection
//!    (`LC08_L1TP_224078_20200518_...`: the fourth field is the acquisition date) or
//!    pre-collection (`LT51670552010352MLK00`: year and day of year);
//! 3. a calendar date in the file name (`2008-07-08`, `2008_07_08` or `20080708`);
//! 4. `TIFFTAG_DATETIME` (a TIFF's own date, often when the file was written rather
//!    than when the scene was taken: the last resort).
//!
//! Dates are calendar days (`YYYY-MM-DD`); a time of day is dropped.

use std::fmt;
use std::path::Path;

use gdal::Metadata;

use crate::error::{Error, Result};

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Day {
    /// A valid calendar day (years 1800..=2200), else None.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Day> {
        ((1800..=2200).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month))
        .then_some(Day { year, month, day })
    }

    /// The `doy`-th day (1-based) of `year`.
    pub fn from_ordinal(year: i32, doy: u32) -> Option<Day> {
        let mut left = doy;
        for m in 1..=12 {
            let n = days_in_month(year, m);
            if left >= 1 && left <= n {
                return Day::new(year, m, left);
            }
            left = left.checked_sub(n)?;
        }
        None
    }

    /// `YYYY-MM-DD` (or `YYYY:MM:DD`, as TIFF writes it), optionally followed by a time
    /// (`T...` or ` ...`), which is dropped.
    pub fn parse(s: &str) -> Option<Day> {
        let s = s.trim();
        let head = s.get(..10)?;
        let rest = &s[10..];
        if !(rest.is_empty() || rest.starts_with(['T', 't', ' '])) {
            return None;
        }
        let b = head.as_bytes();
        let sep = b[4];
        if !(sep == b'-' || sep == b':') || b[7] != sep {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let t = &head[r];
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())?
        };
        Day::new(num(0..4)? as i32, num(5..7)?, num(8..10)?)
    }
}

/// The acquisition day of the raster at `path`, and where it was found; None when
/// neither its metadata nor its name holds one.
pub fn date_of(path: &Path) -> Result<Option<(Day, String)>> {
    let ds = crate::raster::open(path)?;
    for domain in ["IMAGERY", ""] {
        if let Some(v) = ds.metadata_item("ACQUISITIONDATETIME", domain) {
            if let Some(d) = Day::parse(&v) {
                let at = if domain.is_empty() {
                    "ACQUISITIONDATETIME".to_string()
                } else {
                    format!("ACQUISITIONDATETIME ({domain} metadata)")
                };
                return Ok(Some((d, at)));
            }
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(d) = landsat_id(&name) {
        return Ok(Some((d, "file name (Landsat scene ID)".into())));
    }
    if let Some(d) = date_in_name(&name) {
        return Ok(Some((d, "file name".into())));
    }
    if let Some(d) = ds
        .metadata_item("TIFFTAG_DATETIME", "")
        .and_then(|v| Day::parse(&v))
    {
        return Ok(Some((d, "TIFFTAG_DATETIME".into())));
    }
    Ok(None)
}

/// The acquisition day in a Landsat identifier at the start of a file name.
pub fn landsat_id(name: &str) -> Option<Day> {
    let upper = name.to_ascii_uppercase();
    let b = upper.as_bytes();
    // Collection 1/2: LXSS_LLLL_PPPRRR_YYYYMMDD_yyyymmdd_CC_TX
    let fields: Vec<&str> = upper.split('_').collect();
    if fields.len() >= 4
        && fields[0].len() == 4
        && fields[0].starts_with('L')
        && fields[2].len() == 6
        && fields[3].len() == 8
    {
        return yyyymmdd(fields[3]);
    }
    // pre-collection: LXSPPPRRRYYYYDDDGSIVV (21 characters)
    if b.len() >= 21 && b[0] == b'L' && upper[3..16].bytes().all(|c| c.is_ascii_digit()) {
        let year: i32 = upper[9..13].parse().ok()?;
        let doy: u32 = upper[13..16].parse().ok()?;
        return Day::from_ordinal(year, doy);
    }
    None
}

fn yyyymmdd(t: &str) -> Option<Day> {
    if t.len() != 8 || !t.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Day::new(
        t[..4].parse().ok()?,
        t[4..6].parse().ok()?,
        t[6..].parse().ok()?,
    )
}

/// The first calendar date in a file name: `YYYY-MM-DD`, `YYYY_MM_DD` or `YYYYMMDD`
/// standing apart from other digits.
pub fn date_in_name(name: &str) -> Option<Day> {
    let b = name.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_digit());
    for i in 0..b.len() {
        if !digit(i) || (i > 0 && digit(i - 1)) {
            continue;
        }
        // YYYY-MM-DD / YYYY_MM_DD
        if b.len() >= i + 10
            && (0..4).all(|k| digit(i + k))
            && (b[i + 4] == b'-' || b[i + 4] == b'_')
            && b[i + 7] == b[i + 4]
            && digit(i + 5)
            && digit(i + 6)
            && digit(i + 8)
            && digit(i + 9)
            && !digit(i + 10)
        {
            let t = &name[i..i + 10];
            if let Some(d) = Day::new(
                t[..4].parse().ok()?,
                t[5..7].parse().ok()?,
                t[8..10].parse().ok()?,
            ) {
                return Some(d);
            }
        }
        // YYYYMMDD
        if (0..8).all(|k| digit(i + k)) && !digit(i + 8) {
            if let Some(d) = yyyymmdd(&name[i..i + 8]) {
                return Some(d);
            }
        }
    }
    None
}

/// `--dates 2008-07-08,2009-07-11,...`: one day per date, in the order of the dates.
pub fn parse_list(list: &str) -> Result<Vec<Day>> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            Day::parse(t).ok_or_else(|| {
                Error::Usage(format!(
                    "--dates: {t:?} is not a date; write YYYY-MM-DD, e.g. --dates 2008-07-08,2009-07-11,2010-07-14"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(Day::parse("2008-07-08").unwrap().to_string(), "2008-07-08");
        assert_eq!(
            Day::parse("2010:12:18 10:11:12").unwrap().to_string(),
            "2010-12-18"
        );
        assert_eq!(
            Day::parse("2010-12-18T10:11:12Z").unwrap().to_string(),
            "2010-12-18"
        );
        assert!(Day::parse("2010-13-01").is_none());
        assert!(Day::parse("2011-02-29").is_none());
        assert!(Day::parse("2012-02-29").is_some());
        assert!(Day::parse("2010-1-1").is_none());
        assert_eq!(
            Day::from_ordinal(2008, 190).unwrap().to_string(),
            "2008-07-08"
        );
        assert_eq!(
            Day::from_ordinal(2010, 352).unwrap().to_string(),
            "2010-12-18"
        );
        assert!(Day::from_ordinal(2011, 366).is_none());
    }

    #[test]
    fn names() {
        let d = |s: &str| landsat_id(s).map(|d| d.to_string());
        assert_eq!(
            d("LT50350322008190PAC01_b345.tif").as_deref(),
            Some("2008-07-08")
        );
        assert_eq!(
            d("LC08_L1TP_195025_20130707_20170503_01_T1_B4.TIF").as_deref(),
            Some("2013-07-07")
        );
        assert_eq!(
            d("LT05_L1TP_167055_20000309_20161214_01_T1.tif").as_deref(),
            Some("2000-03-09")
        );
        assert_eq!(d("landcover_2008.tif"), None);
        let n = |s: &str| date_in_name(s).map(|d| d.to_string());
        assert_eq!(n("classes_2009-07-11.tif").as_deref(), Some("2009-07-11"));
        assert_eq!(n("s2_20200518_b4.tif").as_deref(), Some("2020-05-18"));
        assert_eq!(n("tile_123456789.tif"), None);
        assert_eq!(n("map_2008.tif"), None);
    }
}
