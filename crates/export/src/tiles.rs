//! Mapbox vector tiles (MVT 2.1) of hexes and points, in the web-mercator
//! tile grid (`z/x/y`, XYZ scheme as MapLibre requests it).
//!
//! The server and the PMTiles export encode through the same function, so a
//! tile served live and a tile in an archive are the same bytes.

use mvt::{GeomEncoder, GeomType, Tile};
use pointy::BBox;

/// Tile extent (coordinates per tile side), MVT's customary 4096.
pub const TILE_EXTENT: u32 = 4096;
/// Geometry beyond the tile edge kept for seamless rendering, tile units.
const BUFFER: f64 = 64.0;
/// The deepest zoom a tile address may have.
pub const MAX_ZOOM: u8 = 24;
/// Web mercator's latitude limit, degrees.
const MAX_LAT: f64 = 85.051_128_779_806_59;

/// A tile address `z/x/y` (XYZ: y = 0 at the north).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Zoom level.
    pub z: u8,
    /// Column, 0..2^z.
    pub x: u32,
    /// Row, 0..2^z from the north.
    pub y: u32,
}

impl TileId {
    /// A checked tile address.
    ///
    /// # Errors
    /// A message when z exceeds [`MAX_ZOOM`] or x/y are outside 0..2^z.
    pub fn new(z: u32, x: u32, y: u32) -> Result<Self, String> {
        if z > u32::from(MAX_ZOOM) {
            return Err(format!("zoom {z} is above the maximum {MAX_ZOOM}"));
        }
        let n = 1u64 << z;
        if u64::from(x) >= n || u64::from(y) >= n {
            return Err(format!(
                "x = {x}, y = {y}: at zoom {z} both must be below {n}"
            ));
        }
        #[allow(clippy::cast_possible_truncation)]
        Ok(Self { z: z as u8, x, y })
    }

    /// West, south, east, north of the tile in degrees.
    #[must_use]
    pub fn bounds_deg(&self) -> [f64; 4] {
        let n = f64::from(1u32 << self.z);
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| {
            (std::f64::consts::PI * (1.0 - 2.0 * y / n))
                .sinh()
                .atan()
                .to_degrees()
        };
        let (x, y) = (f64::from(self.x), f64::from(self.y));
        [lon(x), lat(y + 1.0), lon(x + 1.0), lat(y)]
    }

    /// The tile containing (lat, lon) at zoom `z`.
    #[must_use]
    pub fn containing(lat: f64, lon: f64, z: u8) -> Self {
        let (x, y) = mercator_unit(lat, lon);
        let n = f64::from(1u32 << z);
        let clamp = |v: f64| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let v = (v * n).floor().max(0.0) as u32;
            v.min((1u32 << z) - 1)
        };
        Self {
            z,
            x: clamp(x),
            y: clamp(y),
        }
    }

    /// (lon, lat) in degrees → tile coordinates (0..extent inside the tile).
    #[must_use]
    pub fn to_tile_xy(&self, lon: f64, lat: f64) -> (f64, f64) {
        let (ux, uy) = mercator_unit(lat, lon);
        let n = f64::from(1u32 << self.z);
        let extent = f64::from(TILE_EXTENT);
        (
            (ux * n - f64::from(self.x)) * extent,
            (uy * n - f64::from(self.y)) * extent,
        )
    }
}

/// Web mercator in units of the whole world: x, y in 0..1 (y down).
fn mercator_unit(lat: f64, lon: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    (x, y)
}

/// A feature's geometry in WGS84 degrees.
#[derive(Debug, Clone, PartialEq)]
pub enum TileGeometry {
    /// A point (lon, lat).
    Point(f64, f64),
    /// A polygon's exterior ring of (lon, lat), not closed (the last vertex
    /// is not the first again).
    Polygon(Vec<(f64, f64)>),
}

/// A property value.
#[derive(Debug, Clone, PartialEq)]
pub enum TileValue {
    /// Text.
    Text(String),
    /// A floating-point number.
    Float(f64),
    /// An integer.
    Int(i64),
}

/// One feature: its geometry and properties.
#[derive(Debug, Clone, PartialEq)]
pub struct TileFeature {
    /// Feature id (an H3 cell's 64-bit index for hexes).
    pub id: u64,
    /// Where it is.
    pub geometry: TileGeometry,
    /// Properties in the order they are written.
    pub properties: Vec<(&'static str, TileValue)>,
}

/// Encode one tile holding `layers` (name, features). Features entirely
/// outside the tile (beyond its buffer) are left out; a layer without
/// features is left out too.
///
/// # Errors
/// A message if the MVT encoder rejects a geometry or layer.
pub fn encode_tile(tile: TileId, layers: &[(&str, &[TileFeature])]) -> Result<Vec<u8>, String> {
    let mut out = Tile::new(TILE_EXTENT);
    let extent = f64::from(TILE_EXTENT);
    let clip = BBox::from(((-BUFFER, -BUFFER), (extent + BUFFER, extent + BUFFER)));
    for (name, features) in layers {
        let mut layer = out.create_layer(name);
        let mut count = 0usize;
        for feature in *features {
            let Some(geometry) = encode_geometry(tile, &feature.geometry, clip)? else {
                continue;
            };
            let mut f = layer.into_feature(geometry);
            f.set_id(feature.id);
            for (key, value) in &feature.properties {
                match value {
                    TileValue::Text(v) => f.add_tag_string(key, v),
                    TileValue::Float(v) => f.add_tag_double(key, *v),
                    TileValue::Int(v) => f.add_tag_sint(key, *v),
                }
            }
            layer = f.into_layer();
            count += 1;
        }
        if count > 0 {
            out.add_layer(layer).map_err(|e| e.to_string())?;
        }
    }
    out.to_bytes().map_err(|e| e.to_string())
}

fn encode_geometry(
    tile: TileId,
    geometry: &TileGeometry,
    clip: BBox<f64>,
) -> Result<Option<mvt::GeomData>, String> {
    let inside = |x: f64, y: f64| {
        x >= clip.x_min() && x <= clip.x_max() && y >= clip.y_min() && y <= clip.y_max()
    };
    match geometry {
        TileGeometry::Point(lon, lat) => {
            let (x, y) = tile.to_tile_xy(*lon, *lat);
            if !inside(x, y) {
                return Ok(None);
            }
            GeomEncoder::new(GeomType::Point)
                .point(x, y)
                .and_then(GeomEncoder::encode)
                .map(Some)
                .map_err(|e| e.to_string())
        }
        TileGeometry::Polygon(ring) => {
            let mut xy: Vec<(f64, f64)> = ring
                .iter()
                .map(|&(lon, lat)| tile.to_tile_xy(lon, lat))
                .collect();
            let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for &(x, y) in &xy {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
            if xy.len() < 3
                || x1 < clip.x_min()
                || x0 > clip.x_max()
                || y1 < clip.y_min()
                || y0 > clip.y_max()
            {
                return Ok(None);
            }
            // MVT wants exterior rings clockwise in tile coordinates (y
            // down), which is a positive shoelace sum there.
            if shoelace(&xy) < 0.0 {
                xy.reverse();
            }
            let mut encoder = GeomEncoder::new(GeomType::Polygon).bbox(clip);
            for (x, y) in xy {
                encoder.add_point(x, y).map_err(|e| e.to_string())?;
            }
            encoder.encode().map(Some).map_err(|e| e.to_string())
        }
    }
}

fn shoelace(ring: &[(f64, f64)]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum()
}

/// A decoded tile: the parts of the MVT 2.1 protobuf a reader checks
/// (layers, features, keys, extent), for tests and tools that read tiles
/// back.
pub mod decoded {
    /// A tile.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tile {
        /// Its layers.
        #[prost(message, repeated, tag = "3")]
        pub layers: Vec<Layer>,
    }

    /// A layer.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Layer {
        /// MVT version (2).
        #[prost(uint32, required, tag = "15")]
        pub version: u32,
        /// Layer name.
        #[prost(string, required, tag = "1")]
        pub name: String,
        /// Features.
        #[prost(message, repeated, tag = "2")]
        pub features: Vec<Feature>,
        /// Property keys.
        #[prost(string, repeated, tag = "3")]
        pub keys: Vec<String>,
        /// Tile extent.
        #[prost(uint32, optional, tag = "5")]
        pub extent: Option<u32>,
    }

    /// A feature.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Feature {
        /// Feature id.
        #[prost(uint64, optional, tag = "1")]
        pub id: Option<u64>,
        /// Key/value index pairs.
        #[prost(uint32, repeated, packed = "true", tag = "2")]
        pub tags: Vec<u32>,
        /// 1 point, 2 line, 3 polygon.
        #[prost(int32, optional, tag = "3")]
        pub r#type: Option<i32>,
        /// Encoded geometry commands.
        #[prost(uint32, repeated, packed = "true", tag = "4")]
        pub geometry: Vec<u32>,
    }

    /// Decode an MVT.
    ///
    /// # Errors
    /// A message when the bytes are not a vector tile.
    pub fn decode(bytes: &[u8]) -> Result<Tile, String> {
        <Tile as prost::Message>::decode(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn tile_addresses_are_checked() {
        assert!(TileId::new(0, 0, 0).is_ok());
        assert!(TileId::new(3, 8, 0).is_err());
        assert!(TileId::new(3, 0, 8).is_err());
        assert!(TileId::new(25, 0, 0).is_err());
    }

    #[test]
    fn bounds_and_containing_tile_agree() {
        // Ulm Minster at zoom 12: the tile that contains it holds it in its bounds.
        let (lat, lon) = (48.3985, 9.9918);
        let tile = TileId::containing(lat, lon, 12);
        let [w, s, e, n] = tile.bounds_deg();
        assert!(w <= lon && lon < e && s < lat && lat <= n, "{tile:?}");
        let (x, y) = tile.to_tile_xy(lon, lat);
        assert!((0.0..4096.0).contains(&x) && (0.0..4096.0).contains(&y));
        // The world tile spans the mercator world.
        let [w, s, e, n] = TileId::new(0, 0, 0).unwrap().bounds_deg();
        assert!((w + 180.0).abs() < 1e-9 && (e - 180.0).abs() < 1e-9);
        assert!((n - MAX_LAT).abs() < 1e-6 && (s + MAX_LAT).abs() < 1e-6);
    }

    #[test]
    fn features_outside_the_tile_are_left_out() {
        let tile = TileId::containing(48.3985, 9.9918, 12);
        let inside = TileFeature {
            id: 1,
            geometry: TileGeometry::Point(9.9918, 48.3985),
            properties: vec![("name", TileValue::Text("Minster".into()))],
        };
        let outside = TileFeature {
            id: 2,
            geometry: TileGeometry::Point(0.0, 0.0),
            properties: vec![],
        };
        let one = encode_tile(tile, &[("sites", std::slice::from_ref(&inside))]).unwrap();
        let both = encode_tile(tile, &[("sites", &[inside, outside])]).unwrap();
        assert_eq!(one, both);
        let read = decoded::decode(&one).unwrap();
        assert_eq!(read.layers.len(), 1);
        assert_eq!(read.layers[0].name, "sites");
        assert_eq!(read.layers[0].features[0].id, Some(1));
        assert_eq!(read.layers[0].keys, vec!["name".to_owned()]);
        let none = encode_tile(tile, &[("sites", &[])]).unwrap();
        assert!(none.is_empty(), "a tile without features has no layers");
        assert!(!one.is_empty());
    }
}
