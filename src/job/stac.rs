//! STAC inputs: an Item or an ItemCollection (a GeoJSON FeatureCollection of Items);
//! each Item becomes one scene, a VRT stacking the chosen assets in the order asked
//! (`gdalbuildvrt -separate`), each band described by the name asked for, so `--bands`
//! and the model's band names match them.
//!
//! An asset is chosen by its key (`B04`, `red`), else by the `common_name` (or `name`)
//! of its single `eo:bands` (STAC 1.0) or `bands` (STAC 1.1) entry. Asset hrefs: a
//! relative href is relative to the STAC file; `http(s)://` is read through
//! `/vsicurl/`, `s3://` through `/vsis3/`.

use std::path::{Path, PathBuf};

use gdal::programs::raster::{build_vrt, BuildVRTOptions};
use gdal::{Dataset, Metadata};
use serde_json::Value;

use crate::error::{gdal_text, Error, Result};

/// One STAC Item as a scene: its id and the VRT of its assets.
pub struct StacScene {
    pub id: String,
    pub vrt: PathBuf,
}

/// The Items of `stac` (an Item or an ItemCollection) as VRTs written into `vrt_dir`,
/// stacking `assets` (keys or common names) in order.
pub fn scenes(stac: &Path, assets: &[String], vrt_dir: &Path) -> Result<Vec<StacScene>> {
    let bad = |problem: String| Error::input(stac, problem);
    let text = std::fs::read_to_string(stac)
        .map_err(|e| bad(format!("cannot read the STAC file ({e}); check the path")))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "is not JSON ({e}); give a STAC Item or ItemCollection"
        ))
    })?;
    let features: Vec<&Value> = match doc.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => doc
            .get("features")
            .and_then(Value::as_array)
            .map(|v| v.iter().collect())
            .unwrap_or_default(),
        Some("Feature") => vec![&doc],
        _ => {
            return Err(bad(
                "is neither a STAC Item (\"type\": \"Feature\") nor an ItemCollection (\"type\": \"FeatureCollection\"); give one of those".into(),
            ))
        }
    };
    if features.is_empty() {
        return Err(bad(
            "holds no Items; give an ItemCollection with features".into()
        ));
    }
    if assets.is_empty() {
        return Err(Error::Usage(format!(
            "--stac {}: say which assets to stack with --assets (keys or common names, e.g. blue,green,red,nir)",
            stac.display()
        )));
    }
    let base = crate::write::output::folder_of(stac);
    std::fs::create_dir_all(vrt_dir)
        .map_err(|e| Error::output(vrt_dir, format!("cannot create the folder: {e}")))?;
    let mut out = Vec::new();
    for (k, f) in features.iter().enumerate() {
        let id = f
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("item{k}"));
        let item_assets = f.get("assets").and_then(Value::as_object);
        let hrefs = assets
            .iter()
            .map(|want| {
                let href = item_assets
                    .and_then(|a| pick(a, want))
                    .ok_or_else(|| missing(stac, &id, want, item_assets))?;
                Ok(resolve(&base, href))
            })
            .collect::<Result<Vec<String>>>()?;
        let vrt = vrt_dir.join(format!("{}.vrt", super::plan::safe_name(&id)));
        stack(&hrefs, assets, &vrt).map_err(|e| {
            Error::input(
                stac,
                format!("item {id}: cannot stack its assets ({e}); check the hrefs can be read"),
            )
        })?;
        out.push(StacScene { id, vrt });
    }
    Ok(out)
}

/// The href of the asset `want`: by key (case-insensitive), else by the common name or
/// name of its one band.
fn pick<'a>(assets: &'a serde_json::Map<String, Value>, want: &str) -> Option<&'a str> {
    let href = |v: &'a Value| v.get("href").and_then(Value::as_str);
    if let Some((_, v)) = assets.iter().find(|(k, _)| k.eq_ignore_ascii_case(want)) {
        return href(v);
    }
    assets.values().find_map(|v| {
        let bands = v
            .get("eo:bands")
            .or_else(|| v.get("bands"))
            .and_then(Value::as_array)?;
        let [b] = bands.as_slice() else { return None };
        let names = ["common_name", "eo:common_name", "name"];
        names
            .iter()
            .filter_map(|n| b.get(*n).and_then(Value::as_str))
            .any(|n| n.eq_ignore_ascii_case(want))
            .then(|| href(v))
            .flatten()
    })
}

/// The one-line error of an Item without a wanted asset, listing what it has.
fn missing(
    stac: &Path,
    id: &str,
    want: &str,
    assets: Option<&serde_json::Map<String, Value>>,
) -> Error {
    let has: Vec<String> = assets
        .map(|a| {
            a.iter()
                .map(|(k, v)| {
                    let common = v
                        .get("eo:bands")
                        .or_else(|| v.get("bands"))
                        .and_then(Value::as_array)
                        .and_then(|b| b.first())
                        .and_then(|b| b.get("common_name"))
                        .and_then(Value::as_str);
                    match common {
                        Some(c) => format!("{k} ({c})"),
                        None => k.clone(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Error::input(
        stac,
        format!(
            "item {id} has no asset {want:?} (by key or eo:bands common name; it has: {}); choose existing ones with --assets, or leave the item out of the collection",
            if has.is_empty() { "none".into() } else { has.join(", ") }
        ),
    )
}

/// An href as GDAL reads it.
fn resolve(base: &Path, href: &str) -> String {
    if let Some(rest) = href.strip_prefix("s3://") {
        return format!("/vsis3/{rest}");
    }
    if href.starts_with("http://") || href.starts_with("https://") {
        return format!("/vsicurl/{href}");
    }
    let href = href.strip_prefix("file://").unwrap_or(href);
    if href.starts_with('/') {
        return href.to_string();
    }
    base.join(href).to_string_lossy().into_owned()
}

/// `gdalbuildvrt -separate` of `hrefs` into `vrt`, bands described by `names`.
fn stack(hrefs: &[String], names: &[String], vrt: &Path) -> std::result::Result<(), String> {
    let sources = hrefs
        .iter()
        .map(|h| Dataset::open(h).map_err(|e| format!("{h}: {}", gdal_text(&e))))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let opts = BuildVRTOptions::new(["-separate"]).map_err(|e| gdal_text(&e))?;
    let mut ds = build_vrt(Some(vrt), &sources, Some(opts)).map_err(|e| gdal_text(&e))?;
    for (i, n) in names.iter().enumerate() {
        let mut b = ds.rasterband(i + 1).map_err(|e| gdal_text(&e))?;
        b.set_description(n).map_err(|e| gdal_text(&e))?;
    }
    ds.flush_cache().map_err(|e| gdal_text(&e))?;
    Ok(())
}
