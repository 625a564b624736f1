//! Class legends: the names and colours of a class map's classes, as GDAL stores them
//! (category names in the PAM `.aux.xml`, a colour table in the file), and the one
//! palette terratile uses for classes that come without a colour.

use gdal::raster::RasterBand;

/// Names and colours of a class map's band, and the range of values it holds.
#[derive(Debug, Clone, Default)]
pub struct Legend {
    pub names: Vec<String>,
    /// Colour table entries, by value (None where an entry is not RGB).
    pub colors: Vec<Option<[u8; 3]>>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
}

impl Legend {
    /// Reads the legend of `band`. The dataset must have loaded its `.aux.xml` already
    /// (GTiff does so on the first georeferencing query: call `geo_transform()` first).
    pub fn of_band(band: &RasterBand<'_>) -> Legend {
        let names = category_names(band);
        let mut colors = Vec::new();
        if let Some(ct) = band.color_table() {
            for i in 0..ct.entry_count().min(256) {
                colors.push(ct.entry_as_rgb(i).map(|c| {
                    [
                        c.r.clamp(0, 255) as u8,
                        c.g.clamp(0, 255) as u8,
                        c.b.clamp(0, 255) as u8,
                    ]
                }));
            }
        }
        let mm = band.compute_raster_min_max(false).ok();
        Legend {
            names,
            colors,
            min_value: mm.as_ref().map(|m| m.min),
            max_value: mm.as_ref().map(|m| m.max),
        }
    }
}

/// The band's category names (GDAL's `GetCategoryNames`).
pub fn category_names(band: &RasterBand<'_>) -> Vec<String> {
    let mut names = Vec::new();
    // SAFETY: GDAL returns a NULL-terminated list owned by the band, read while it is open.
    unsafe {
        let list = gdal_sys::GDALGetRasterCategoryNames(band.c_rasterband());
        if !list.is_null() {
            let mut i = 0;
            while !(*list.add(i)).is_null() {
                names.push(
                    std::ffi::CStr::from_ptr(*list.add(i))
                        .to_string_lossy()
                        .into_owned(),
                );
                i += 1;
            }
        }
    }
    names
}

/// Colour `i` of terratile's qualitative palette (Tableau 10, then repeated darker), for
/// classes without a colour of their own.
pub fn default_colour(i: usize) -> [u8; 3] {
    const P: [[u8; 3]; 10] = [
        [78, 121, 167],
        [242, 142, 43],
        [225, 87, 89],
        [118, 183, 178],
        [89, 161, 79],
        [237, 201, 72],
        [176, 122, 161],
        [255, 157, 167],
        [156, 117, 95],
        [186, 176, 172],
    ];
    let c = P[i % 10];
    let k = 1.0 / (1.0 + (i / 10) as f32 * 0.5);
    c.map(|v| (v as f32 * k) as u8)
}

/// The first `n` colours of the palette.
pub fn default_colours(n: usize) -> Vec<[u8; 3]> {
    (0..n).map(default_colour).collect()
}
