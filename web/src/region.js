// The region a placement job runs on: the current view, shrunk around its
// centre when it is larger than the server accepts (docs/api.md: ≤ 1,000 km²).

export const MAX_AREA_KM2 = 1000;
// Aim a little under the limit: the server may measure area on the ellipsoid.
const TARGET_KM2 = 950;
const KM_PER_DEG_LAT = 110.574;
const KM_PER_DEG_LON_EQ = 111.32;

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** Approximate area of a [w, s, e, n] box in km². */
export function bboxAreaKm2([w, s, e, n]) {
  const midLat = ((s + n) / 2) * (Math.PI / 180);
  return (e - w) * KM_PER_DEG_LON_EQ * Math.cos(midLat) * (n - s) * KM_PER_DEG_LAT;
}

/** {bbox, shrunk, areaKm2}: the view's box, or the box of TARGET_KM2 around its centre. */
export function viewRegion(view) {
  let [w, s, e, n] = view;
  w = clamp(w, -180, 180);
  e = clamp(e, -180, 180);
  s = clamp(s, -85, 85);
  n = clamp(n, -85, 85);
  const areaKm2 = bboxAreaKm2([w, s, e, n]);
  const round = (b) => b.map((x) => Number(x.toFixed(6)));
  if (areaKm2 <= TARGET_KM2) return { bbox: round([w, s, e, n]), shrunk: false, areaKm2 };
  const f = Math.sqrt(TARGET_KM2 / areaKm2);
  const cx = (w + e) / 2;
  const cy = (s + n) / 2;
  const hw = ((e - w) / 2) * f;
  const hh = ((n - s) / 2) * f;
  return { bbox: round([cx - hw, cy - hh, cx + hw, cy + hh]), shrunk: true, areaKm2 };
}
