//! The raster vocabulary every stage shares: a raster's pixel grid ([`PixelGrid`], with
//! its [`GeoTransform`]), what terratile knows of an opened raster ([`RasterInfo`]),
//! class maps read back ([`ClassMap`]: u16 row blocks, legend, class areas), pixel areas
//! on the ground ([`PixelArea`]), class legends and the default palette ([`legend`]), and
//! GDAL's programs (translate, warp) behind one owning options type and one
//! [`Resampling`] enum ([`programs`]).
//!
//! Nothing here runs a model: `read`, `segment`, `change` and the tests build on it.

pub mod area;
pub mod buffer;
pub mod classmap;
pub mod grid;
pub mod info;
pub mod legend;
pub mod programs;

pub use area::{AreaMethod, PixelArea};
pub use classmap::{ClassAreas, ClassMap};
pub use grid::{GeoTransform, PixelGrid};
pub use info::{open, RasterInfo};
pub use legend::Legend;
pub use programs::Resampling;
