//! GeoPackage geometry blobs: the GPKG header (magic `GP`, version 0, flags, srs_id, an
//! xy envelope) followed by a little-endian WKB polygon.

/// A polygon (one ring, closed, lon/lat) as a GeoPackage geometry blob in `srs_id`.
pub fn polygon_blob(ring: &[(f64, f64)], srs_id: i32) -> Vec<u8> {
    let (mut minx, mut maxx, mut miny, mut maxy) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in ring {
        minx = minx.min(x);
        maxx = maxx.max(x);
        miny = miny.min(y);
        maxy = maxy.max(y);
    }
    let mut b = Vec::with_capacity(8 + 32 + 13 + 16 * ring.len());
    b.extend_from_slice(b"GP");
    b.push(0); // version 1 (0)
               // flags: standard binary, not empty, envelope [minx, maxx, miny, maxy] (1 << 1),
               // little-endian (1)
    b.push(0b0000_0011);
    b.extend_from_slice(&srs_id.to_le_bytes());
    for v in [minx, maxx, miny, maxy] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    // WKB polygon
    b.push(1);
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&(ring.len() as u32).to_le_bytes());
    for &(x, y) in ring {
        b.extend_from_slice(&x.to_le_bytes());
        b.extend_from_slice(&y.to_le_bytes());
    }
    b
}

/// The xy envelope stored in a blob made by [`polygon_blob`]: (minx, maxx, miny, maxy).
pub fn envelope(blob: &[u8]) -> Option<[f64; 4]> {
    if blob.len() < 40 || &blob[..2] != b"GP" {
        return None;
    }
    let f = |i: usize| -> Option<f64> {
        Some(f64::from_le_bytes(
            blob.get(8 + 8 * i..16 + 8 * i)?.try_into().ok()?,
        ))
    };
    Some([f(0)?, f(1)?, f(2)?, f(3)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_envelope() {
        let ring = [(1.0, 2.0), (3.0, 2.0), (3.0, 5.0), (1.0, 5.0), (1.0, 2.0)];
        let b = polygon_blob(&ring, 4326);
        assert_eq!(&b[..4], b"GP\x00\x03");
        assert_eq!(i32::from_le_bytes(b[4..8].try_into().unwrap()), 4326);
        assert_eq!(envelope(&b), Some([1.0, 3.0, 2.0, 5.0]));
        assert_eq!(b.len(), 40 + 1 + 4 + 4 + 4 + 16 * 5);
    }
}
