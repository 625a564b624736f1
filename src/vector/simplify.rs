//! `--simplify TOLERANCE`: simpler borders that stay shared, so neighbouring polygons
//! keep meeting without gaps or overlaps.
//!
//! A traced polygon's rings run along pixel edges. Every ring is walked pixel corner by
//! pixel corner and cut at the **nodes** of the class map: the corners where three or
//! more regions meet (nodata and the outside of the map count as one region), or where
//! two regions meet diagonally. Between two nodes a border is one **arc**, and both
//! polygons that share it hold exactly the same corners. Each arc is put in a canonical
//! direction (from its smaller end), its straight runs reduced to their ends, and
//! simplified with Douglas-Peucker, ends fixed; the same arc seen from the other
//! polygon becomes the same simplified line, so the border stays shared. An arc keeps
//! at least its farthest corner (a closed ring at least four), so no ring collapses.
//!
//! As in any Douglas-Peucker, at tolerances of many pixels an arc may cross another
//! one; a tolerance of a pixel or two removes the staircase of pixel edges without
//! that. Nodes are found in one streamed pass over the map and kept as a sorted list
//! (8 bytes per node, not per pixel).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::Path;

use geo::{Coord, LineString, Polygon};

use super::Connectivity;
use crate::error::{Error, Result};
use crate::raster::classmap::read_u16;
use crate::raster::{ClassMap, GeoTransform};

/// No region: nodata and the outside of the map.
const NONE: u32 = u32::MAX;

/// Simplifies the polygons traced from one class map.
pub struct Simplifier {
    gt: GeoTransform,
    width_px: usize,
    /// Corner indices `row * (width + 1) + col` of the nodes, sorted.
    nodes: Vec<u64>,
    tolerance: f64,
    /// Arcs kept unsimplified (their keys), because simplifying them left a polygon
    /// invalid.
    raw: HashSet<u64>,
    /// The keys of the arcs of the last polygon simplified.
    used: Vec<u64>,
}

impl Simplifier {
    /// Finds the nodes of the class map `map` (one pass over its rows).
    pub fn new(map: &Path, tolerance: f64, _connectivity: Connectivity) -> Result<Simplifier> {
        let cm = ClassMap::open(map)?;
        let gt = cm.info.grid.geo_transform.ok_or_else(|| {
            Error::input(
                map,
                "has no geotransform, so its polygons have no coordinates; georeference it first",
            )
        })?;
        let (w, h) = (cm.info.grid.width_px, cm.info.grid.height_px);
        let band = cm.band(1)?;
        let nd = band.no_data_value();
        let mut prev = vec![NONE; w];
        let mut cur = vec![NONE; w];
        let mut buf = vec![0u16; w];
        let mut nodes = Vec::new();
        for j in 0..=h {
            // corner row j: cells of row j - 1 above (prev), row j below (cur)
            if j < h {
                read_u16(&band, map, (0, j), (w, 1), &mut buf)?;
                for (c, &v) in cur.iter_mut().zip(&buf) {
                    *c = if nd.is_some_and(|nd| v as f64 == nd) {
                        NONE
                    } else {
                        v as u32
                    };
                }
            } else {
                cur.fill(NONE);
            }
            let at = |row: &[u32], i: isize| {
                if i < 0 || i as usize >= w {
                    NONE
                } else {
                    row[i as usize]
                }
            };
            for i in 0..=w as isize {
                let (a, b) = (at(&prev, i - 1), at(&prev, i));
                let (c, d) = (at(&cur, i - 1), at(&cur, i));
                if is_node(a, b, c, d) {
                    nodes.push(j as u64 * (w as u64 + 1) + i as u64);
                }
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        // the map's corners: an arc along the outline turns there
        for (c, r) in [(0, 0), (w, 0), (0, h), (w, h)] {
            nodes.push(r as u64 * (w as u64 + 1) + c as u64);
        }
        nodes.sort_unstable();
        nodes.dedup();
        Ok(Simplifier {
            gt,
            width_px: w,
            nodes,
            tolerance,
            raw: HashSet::new(),
            used: Vec::new(),
        })
    }

    fn is_node(&self, (c, r): (i64, i64)) -> bool {
        let k = r as u64 * (self.width_px as u64 + 1) + c as u64;
        self.nodes.binary_search(&k).is_ok()
    }

    /// Keeps the arcs of the last polygon simplified as they are from now on (it came
    /// out invalid); returns whether that added any.
    pub fn keep_last_raw(&mut self) -> bool {
        let mut added = false;
        for k in self.used.drain(..) {
            added |= self.raw.insert(k);
        }
        added
    }

    /// The simplified polygon (same rings, simplified borders).
    pub fn simplify(&mut self, poly: &Polygon<f64>) -> Result<Polygon<f64>> {
        self.used.clear();
        let ext = self.ring(poly.exterior())?;
        let holes = poly
            .interiors()
            .iter()
            .map(|r| self.ring(r))
            .collect::<Result<Vec<_>>>()?;
        Ok(Polygon::new(ext, holes))
    }

    /// A ring's corners, every pixel corner along its edges, with node flags.
    fn corners(&self, ring: &LineString<f64>) -> Result<Vec<((i64, i64), bool)>> {
        let px = |c: &Coord<f64>| -> Result<(i64, i64)> {
            let (x, y) = self
                .gt
                .to_pixel(c.x, c.y)
                .ok_or_else(|| Error::Internal("a degenerate geotransform".into()))?;
            Ok((x.round() as i64, y.round() as i64))
        };
        let pts: Vec<(i64, i64)> = ring.coords().map(px).collect::<Result<_>>()?;
        let mut out: Vec<((i64, i64), bool)> = Vec::with_capacity(pts.len());
        for win in pts.windows(2) {
            let ((c0, r0), (c1, r1)) = (win[0], win[1]);
            let n = (c1 - c0).abs().max((r1 - r0).abs());
            let (dc, dr) = ((c1 - c0).signum(), (r1 - r0).signum());
            for k in 0..n {
                let p = (c0 + k * dc, r0 + k * dr);
                out.push((p, self.is_node(p)));
            }
        }
        Ok(out) // open: the closing corner is the first
    }

    /// A simplified ring, in map coordinates.
    fn ring(&mut self, ring: &LineString<f64>) -> Result<LineString<f64>> {
        let corners = self.corners(ring)?;
        if corners.len() < 4 {
            return Ok(ring.clone());
        }
        let to_map = |p: (i64, i64)| {
            let (x, y) = self.gt.apply(p.0 as f64, p.1 as f64);
            Coord { x, y }
        };
        let mut out: Vec<(i64, i64)> = Vec::with_capacity(corners.len() / 2);
        match corners.iter().position(|c| c.1) {
            None => {
                let pts: Vec<(i64, i64)> = corners.iter().map(|c| c.0).collect();
                out = simplify_closed(&pts, self.tolerance, &self.gt, &self.raw, &mut self.used);
            }
            Some(first) => {
                // rotate to start at a node, close, and cut at every node
                let mut rot: Vec<((i64, i64), bool)> = corners[first..]
                    .iter()
                    .chain(&corners[..first])
                    .copied()
                    .collect();
                rot.push(rot[0]);
                let mut start = 0;
                for k in 1..rot.len() {
                    if rot[k].1 {
                        let arc: Vec<(i64, i64)> = rot[start..=k].iter().map(|c| c.0).collect();
                        let s =
                            simplify_arc(&arc, self.tolerance, &self.gt, &self.raw, &mut self.used);
                        out.extend_from_slice(&s[..s.len() - 1]);
                        start = k;
                    }
                }
            }
        }
        out.push(out[0]);
        Ok(LineString::from(
            out.into_iter().map(to_map).collect::<Vec<_>>(),
        ))
    }
}

/// Whether the corner between cells a (up-left), b (up-right), c (down-left) and d
/// (down-right) is a node: three or more regions, or two meeting diagonally.
fn is_node(a: u32, b: u32, c: u32, d: u32) -> bool {
    let mut v = [a, b, c, d];
    v.sort_unstable();
    let distinct = 1 + v.windows(2).filter(|p| p[0] != p[1]).count();
    distinct >= 3 || (distinct == 2 && a == d && b == c)
}

/// An arc's identity: a hash of its corners in canonical order.
fn key(pts: &[(i64, i64)]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    pts.hash(&mut h);
    h.finish()
}

/// The corners of a path without the middle corners of straight runs.
fn turns(pts: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(pts.len());
    for &p in pts {
        if out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            let cross = (b.0 - a.0) * (p.1 - b.1) - (b.1 - a.1) * (p.0 - b.0);
            if cross == 0 {
                out.pop();
            }
        }
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}

/// An open arc simplified, ends fixed, the same whichever way it is given.
fn simplify_arc(
    arc: &[(i64, i64)],
    tol: f64,
    gt: &GeoTransform,
    raw: &HashSet<u64>,
    used: &mut Vec<u64>,
) -> Vec<(i64, i64)> {
    let (first, last) = (arc[0], arc[arc.len() - 1]);
    let reversed = first > last || (first == last && arc.len() > 2 && arc[1] > arc[arc.len() - 2]);
    let mut pts: Vec<(i64, i64)> = arc.to_vec();
    if reversed {
        pts.reverse();
    }
    let k = key(&pts);
    used.push(k);
    let tol = if raw.contains(&k) { -1.0 } else { tol };
    let pts = if first == last {
        // a ring with one node: closed, started at the node
        let mut open = turns(&pts);
        if open.len() > 1 && open[0] == open[open.len() - 1] {
            open.pop();
        }
        let mut c = closed_from(&open, 0, tol, gt);
        c.push(c[0]);
        c
    } else {
        let t = turns(&pts);
        let mut keep = vec![false; t.len()];
        keep[0] = true;
        keep[t.len() - 1] = true;
        dp(&t, 0, t.len() - 1, tol, gt, true, &mut keep);
        t.iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(p, _)| *p)
            .collect()
    };
    let mut pts = pts;
    if reversed {
        pts.reverse();
    }
    pts
}

/// A ring without nodes, simplified from its smallest corner in a canonical direction
/// (returned open, in the given direction).
fn simplify_closed(
    pts: &[(i64, i64)],
    tol: f64,
    gt: &GeoTransform,
    raw: &HashSet<u64>,
    used: &mut Vec<u64>,
) -> Vec<(i64, i64)> {
    let mut t = turns(pts);
    // the closing runs: the first and the last corner may be the middle of a straight
    // run across the start
    let collinear = |a: (i64, i64), b: (i64, i64), c: (i64, i64)| {
        (b.0 - a.0) * (c.1 - b.1) - (b.1 - a.1) * (c.0 - b.0) == 0
    };
    while t.len() > 3 {
        let n = t.len();
        if collinear(t[n - 1], t[0], t[1]) {
            t.remove(0);
        } else if collinear(t[n - 2], t[n - 1], t[0]) {
            t.pop();
        } else {
            break;
        }
    }
    let n = t.len();
    let m = (0..n).min_by_key(|&i| t[i]).unwrap_or(0);
    let (next, prev) = (t[(m + 1) % n], t[(m + n - 1) % n]);
    let forward = next <= prev;
    let canon: Vec<(i64, i64)> = (0..n)
        .map(|k| {
            if forward {
                t[(m + k) % n]
            } else {
                t[(m + n - k) % n]
            }
        })
        .collect();
    let k = key(&canon);
    used.push(k);
    let tol = if raw.contains(&k) { -1.0 } else { tol };
    let mut s = closed_from(&canon, 0, tol, gt);
    if !forward {
        s[1..].reverse();
    }
    s
}

/// A closed ring (open list, first corner fixed) simplified: the first corner, the
/// corner farthest from it and the farthest of each half from their chord are always
/// kept, so the ring keeps an area.
fn closed_from(t: &[(i64, i64)], _start: usize, tol: f64, gt: &GeoTransform) -> Vec<(i64, i64)> {
    let n = t.len();
    if n <= 4 {
        return t.to_vec();
    }
    let mut ring = t.to_vec();
    ring.push(t[0]);
    let m = |p: (i64, i64)| gt.apply(p.0 as f64, p.1 as f64);
    let f = (1..n)
        .max_by(|&a, &b| {
            let d = |k: usize| {
                let (p, q) = (m(ring[k]), m(ring[0]));
                (p.0 - q.0).hypot(p.1 - q.1)
            };
            d(a).total_cmp(&d(b)).then(b.cmp(&a))
        })
        .unwrap_or(n / 2);
    let mut keep = vec![false; n + 1];
    keep[0] = true;
    keep[f] = true;
    keep[n] = true;
    dp(&ring, 0, f, tol, gt, true, &mut keep);
    dp(&ring, f, n, tol, gt, true, &mut keep);
    ring[..n]
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(p, _)| *p)
        .collect()
}

/// Douglas-Peucker between `i` and `j` (kept); `force` keeps the farthest corner even
/// within the tolerance.
fn dp(
    pts: &[(i64, i64)],
    i: usize,
    j: usize,
    tol: f64,
    gt: &GeoTransform,
    force: bool,
    keep: &mut [bool],
) {
    if j <= i + 1 {
        return;
    }
    let m = |p: (i64, i64)| gt.apply(p.0 as f64, p.1 as f64);
    let (a, b) = (m(pts[i]), m(pts[j]));
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = dx.hypot(dy);
    let dist = |p: (f64, f64)| {
        if len == 0.0 {
            (p.0 - a.0).hypot(p.1 - a.1)
        } else {
            ((p.0 - a.0) * dy - (p.1 - a.1) * dx).abs() / len
        }
    };
    let (mut best, mut dmax) = (i + 1, -1.0);
    for (k, &p) in pts.iter().enumerate().take(j).skip(i + 1) {
        let d = dist(m(p));
        if d > dmax {
            (best, dmax) = (k, d);
        }
    }
    if dmax > tol || force {
        keep[best] = true;
        dp(pts, i, best, tol, gt, false, keep);
        dp(pts, best, j, tol, gt, false, keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arc_simplifies_the_same_both_ways() {
        let gt = GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
        // a staircase from (0,0) to (6,5)
        let mut arc = vec![(0, 0)];
        for k in 0..5 {
            arc.push((k + 1, k));
            arc.push((k + 1, k + 1));
        }
        arc.push((6, 5));
        let (raw, mut used) = (HashSet::new(), Vec::new());
        let a = simplify_arc(&arc, 1.5, &gt, &raw, &mut used);
        let mut rev = arc.clone();
        rev.reverse();
        let mut b = simplify_arc(&rev, 1.5, &gt, &raw, &mut used);
        assert_eq!(used[0], used[1], "one key both ways");
        b.reverse();
        assert_eq!(a, b);
        assert_eq!((a[0], a[a.len() - 1]), ((0, 0), (6, 5)));
        assert!(a.len() >= 3 && a.len() < arc.len(), "{a:?}");
        assert!(is_node(1, 2, 3, 3) && is_node(1, 2, 2, 1) && !is_node(1, 1, 2, 2));
        assert!(!is_node(1, 2, 1, 2) && !is_node(4, 4, 4, 4));
    }
}
