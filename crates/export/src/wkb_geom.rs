//! Hex and site geometries as WKB, with their bounding boxes.

use geo_types::{Coord, LineString, Point, Polygon};
use h3o::CellIndex;
use wkb::Endianness;
use wkb::writer::{WriteOptions, write_point, write_polygon};

/// A bounding box in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BBox {
    pub xmin: f64,
    pub ymin: f64,
    pub xmax: f64,
    pub ymax: f64,
}

impl BBox {
    pub fn empty() -> Self {
        Self {
            xmin: f64::INFINITY,
            ymin: f64::INFINITY,
            xmax: f64::NEG_INFINITY,
            ymax: f64::NEG_INFINITY,
        }
    }

    pub fn add(&mut self, x: f64, y: f64) {
        self.xmin = self.xmin.min(x);
        self.ymin = self.ymin.min(y);
        self.xmax = self.xmax.max(x);
        self.ymax = self.ymax.max(y);
    }

    pub fn union(&mut self, other: &BBox) {
        self.add(other.xmin, other.ymin);
        self.add(other.xmax, other.ymax);
    }

    pub fn to_vec(self) -> Vec<f64> {
        vec![self.xmin, self.ymin, self.xmax, self.ymax]
    }
}

const OPTIONS: WriteOptions = WriteOptions {
    endianness: Endianness::LittleEndian,
};

/// The cell's boundary as a closed, counter-clockwise polygon in lon/lat.
/// Cells that cross the antimeridian are not split (none occur in practice
/// for LoRaWAN studies; GeoParquet readers draw them wide).
pub(crate) fn cell_polygon(cell: CellIndex) -> Polygon<f64> {
    let mut ring: Vec<Coord<f64>> = cell
        .boundary()
        .iter()
        .map(|ll| Coord {
            x: ll.lng(),
            y: ll.lat(),
        })
        .collect();
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    Polygon::new(LineString::new(ring), Vec::new())
}

/// WKB and bounding box of a cell's polygon.
pub(crate) fn cell_wkb(cell: CellIndex) -> Result<(Vec<u8>, BBox), String> {
    let polygon = cell_polygon(cell);
    let mut bbox = BBox::empty();
    for c in polygon.exterior().coords() {
        bbox.add(c.x, c.y);
    }
    let mut out = Vec::with_capacity(1 + 4 + 4 + 4 + 16 * 8);
    write_polygon(&mut out, &polygon, &OPTIONS).map_err(|e| e.to_string())?;
    Ok((out, bbox))
}

/// WKB of a point.
pub(crate) fn point_wkb(lon: f64, lat: f64) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(21);
    write_point(&mut out, &Point::new(lon, lat), &OPTIONS).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_polygon_is_closed_and_contains_its_centre() {
        let cell: CellIndex = "891f8d7a49bffff".parse().unwrap();
        let (wkb, bbox) = cell_wkb(cell).unwrap();
        // byte order, type 3 (polygon), 1 ring, 7 points of 16 bytes
        assert_eq!(wkb.len(), 1 + 4 + 4 + 4 + 7 * 16);
        assert_eq!(&wkb[..5], &[1, 3, 0, 0, 0]);
        let centre = h3o::LatLng::from(cell);
        assert!(bbox.xmin < centre.lng() && centre.lng() < bbox.xmax);
        assert!(bbox.ymin < centre.lat() && centre.lat() < bbox.ymax);
    }
}
