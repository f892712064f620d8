//! Prices: the custom pricing file (Kubecost's and OpenCost's `default.json` format:
//! `CPU`, `spotCPU`, `RAM`, `spotRAM`, `GPU`, `spotGPU`, `storage`, `discount`,
//! `negotiatedDiscount`, `customPricesEnabled`), OpenCost's default prices, the fallback rules
//! of OpenCost's `getNodePricing`, and the combined discount.
//!
//! The rules, per node (see `docs/pricing.md`):
//! - custom prices enabled: the file's prices for every node, spot ones for spot nodes;
//! - no price series at all for the node: the defaults (spot ones for a spot node);
//! - else the exporter's prices, where a CPU or RAM price of 0 or NaN, or a GPU price of NaN,
//!   is replaced by the default (spot default on a spot node); a missing GPU price is 0;
//! - then any NaN or ±Inf left becomes 0;
//! - the combined discount `1 − (1 − discount)(1 − negotiatedDiscount)` (OpenCost's AWS and
//!   Azure rule) then applies to CPU and RAM, never GPU, on allocations and node assets alike.

use std::path::Path;

use serde::Deserialize;

/// OpenCost's default CPU price per core-hour (`configs/default.json`).
pub const DEFAULT_CPU_PRICE: f64 = 0.031611;
/// OpenCost's default spot CPU price per core-hour.
pub const DEFAULT_SPOT_CPU_PRICE: f64 = 0.006655;
/// OpenCost's default RAM price per GiB-hour.
pub const DEFAULT_RAM_PRICE: f64 = 0.004237;
/// OpenCost's default spot RAM price per GiB-hour.
pub const DEFAULT_SPOT_RAM_PRICE: f64 = 0.000892;
/// OpenCost's default GPU price per GPU-hour. (`default.json` has no spot GPU price, so a spot
/// GPU defaults to 0, as OpenCost's failed parse of the empty string gives.)
pub const DEFAULT_GPU_PRICE: f64 = 0.95;
/// OpenCost's default storage price per GiB-hour (0.04 per GiB-month at 730 hours).
pub const DEFAULT_STORAGE_PRICE: f64 = 0.00005479452;

/// Why a pricing file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("pricing file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("pricing file: not the custom pricing JSON format: {0}")]
    Format(String),
    #[error("pricing file: field {field}: {value:?} is not a number")]
    Number { field: &'static str, value: String },
    #[error("pricing file: field {field}: {value:?} is not a percentage (\"30%\" or \"30\")")]
    Percent { field: &'static str, value: String },
}

/// Prices and discounts, hourly: per core-hour, per GiB-hour, per GPU-hour, per GiB-hour of
/// storage. `Default` is OpenCost's `default.json` with no discount and custom prices off.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomPricing {
    pub cpu: f64,
    pub spot_cpu: f64,
    pub ram: f64,
    pub spot_ram: f64,
    pub gpu: f64,
    pub spot_gpu: f64,
    pub storage: f64,
    /// The general discount, a fraction (0.3 for `"30%"`).
    pub discount: f64,
    /// The negotiated discount, a fraction.
    pub negotiated_discount: f64,
    /// Use these prices for every node instead of the exporter's.
    pub custom_prices_enabled: bool,
}

impl Default for CustomPricing {
    fn default() -> CustomPricing {
        CustomPricing {
            cpu: DEFAULT_CPU_PRICE,
            spot_cpu: DEFAULT_SPOT_CPU_PRICE,
            ram: DEFAULT_RAM_PRICE,
            spot_ram: DEFAULT_SPOT_RAM_PRICE,
            gpu: DEFAULT_GPU_PRICE,
            spot_gpu: 0.0,
            storage: DEFAULT_STORAGE_PRICE,
            discount: 0.0,
            negotiated_discount: 0.0,
            custom_prices_enabled: false,
        }
    }
}

/// A JSON value as Kubecost writes them: mostly strings, sometimes numbers or booleans.
#[derive(Deserialize)]
#[serde(untagged)]
enum Value {
    Text(String),
    Number(f64),
    Flag(bool),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Text(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            Value::Flag(b) => b.to_string(),
        }
    }
}

/// The file as read; fields the cost model does not use are ignored.
#[derive(Deserialize)]
struct File {
    #[serde(rename = "CPU")]
    cpu: Option<Value>,
    #[serde(rename = "spotCPU")]
    spot_cpu: Option<Value>,
    #[serde(rename = "RAM")]
    ram: Option<Value>,
    #[serde(rename = "spotRAM")]
    spot_ram: Option<Value>,
    #[serde(rename = "GPU")]
    gpu: Option<Value>,
    #[serde(rename = "spotGPU")]
    spot_gpu: Option<Value>,
    storage: Option<Value>,
    discount: Option<Value>,
    #[serde(rename = "negotiatedDiscount")]
    negotiated_discount: Option<Value>,
    #[serde(rename = "customPricesEnabled")]
    custom_prices_enabled: Option<Value>,
}

fn number(field: &'static str, v: &Option<Value>, default: f64) -> Result<f64, PricingError> {
    let Some(v) = v else { return Ok(default) };
    let text = v.text();
    if text.is_empty() {
        return Ok(default);
    }
    text.parse::<f64>().map_err(|_| PricingError::Number { field, value: text })
}

/// OpenCost's `ParsePercentString`: a trailing `%` is dropped and the number is divided by
/// 100 either way (`"30%"` and `"30"` are both 0.3; `"0.3"` is 0.003); empty is 0.
pub fn parse_percent(field: &'static str, text: &str) -> Result<f64, PricingError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(0.0);
    }
    let t = t.strip_suffix('%').unwrap_or(t);
    t.trim()
        .parse::<f64>()
        .map(|p| p * 0.01)
        .map_err(|_| PricingError::Percent { field, value: text.to_owned() })
}

impl CustomPricing {
    /// Reads the JSON of a custom pricing file. Missing or empty prices keep OpenCost's
    /// defaults; prices are hourly, as in OpenCost's `default.json`.
    pub fn from_json(text: &str) -> Result<CustomPricing, PricingError> {
        let f: File = serde_json::from_str(text).map_err(|e| PricingError::Format(e.to_string()))?;
        let d = CustomPricing::default();
        let percent = |field: &'static str, v: &Option<Value>| match v {
            None => Ok(0.0),
            Some(v) => parse_percent(field, &v.text()),
        };
        Ok(CustomPricing {
            cpu: number("CPU", &f.cpu, d.cpu)?,
            spot_cpu: number("spotCPU", &f.spot_cpu, d.spot_cpu)?,
            ram: number("RAM", &f.ram, d.ram)?,
            spot_ram: number("spotRAM", &f.spot_ram, d.spot_ram)?,
            gpu: number("GPU", &f.gpu, d.gpu)?,
            spot_gpu: number("spotGPU", &f.spot_gpu, d.spot_gpu)?,
            storage: number("storage", &f.storage, d.storage)?,
            discount: percent("discount", &f.discount)?,
            negotiated_discount: percent("negotiatedDiscount", &f.negotiated_discount)?,
            custom_prices_enabled: f.custom_prices_enabled.as_ref().is_some_and(|v| v.text() == "true"),
        })
    }

    /// Reads a custom pricing file.
    pub fn load(path: &Path) -> Result<CustomPricing, PricingError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| PricingError::Read { path: path.display().to_string(), source })?;
        CustomPricing::from_json(&text)
    }

    /// The combined discount: `1 − (1 − discount)(1 − negotiatedDiscount)`.
    pub fn combined_discount(&self) -> f64 {
        1.0 - (1.0 - self.discount) * (1.0 - self.negotiated_discount)
    }

    fn cpu_for(&self, spot: bool) -> f64 {
        if spot {
            self.spot_cpu
        } else {
            self.cpu
        }
    }
    fn ram_for(&self, spot: bool) -> f64 {
        if spot {
            self.spot_ram
        } else {
            self.ram
        }
    }
    fn gpu_for(&self, spot: bool) -> f64 {
        if spot {
            self.spot_gpu
        } else {
            self.gpu
        }
    }
}

/// What the exporter reported for a node (averages over the window); a price with no series
/// is 0, as in OpenCost's zero-valued node pricing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExportedPrices {
    pub cpu: f64,
    pub ram: f64,
    pub gpu: f64,
}

/// A node's resolved hourly prices before discount.
#[derive(Clone, Debug, PartialEq)]
pub struct NodePrices {
    pub cpu: f64,
    pub ram: f64,
    pub gpu: f64,
    /// `prometheus` plus `/customCPU`, `/customRAM`, `/customGPU` for replaced prices;
    /// `custom`; or `default` when the node had no price series.
    pub source: String,
}

fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// The node's prices by the rules in the module documentation.
pub fn node_prices(exported: Option<&ExportedPrices>, spot: bool, pricing: &CustomPricing) -> NodePrices {
    let custom = |source: &str| NodePrices {
        cpu: finite_or_zero(pricing.cpu_for(spot)),
        ram: finite_or_zero(pricing.ram_for(spot)),
        gpu: finite_or_zero(pricing.gpu_for(spot)),
        source: source.to_owned(),
    };
    if pricing.custom_prices_enabled {
        return custom("custom");
    }
    let Some(e) = exported else { return custom("default") };
    let mut source = String::from("prometheus");
    let mut cpu = e.cpu;
    if cpu == 0.0 || cpu.is_nan() {
        cpu = pricing.cpu_for(spot);
        source.push_str("/customCPU");
    }
    let mut gpu = e.gpu;
    if gpu.is_nan() {
        gpu = pricing.gpu_for(spot);
        source.push_str("/customGPU");
    }
    let mut ram = e.ram;
    if ram == 0.0 || ram.is_nan() {
        ram = pricing.ram_for(spot);
        source.push_str("/customRAM");
    }
    NodePrices { cpu: finite_or_zero(cpu), ram: finite_or_zero(ram), gpu: finite_or_zero(gpu), source }
}

/// A PV's price per GiB-hour: the file's storage price when custom prices are on; else the
/// exporter's, with a missing, 0 or NaN price replaced by the storage default and ±Inf made 0
/// (ampfed's rule; OpenCost has none for PVs, see `docs/pricing.md`).
pub fn storage_price(exported: Option<f64>, pricing: &CustomPricing) -> f64 {
    if pricing.custom_prices_enabled {
        return finite_or_zero(pricing.storage);
    }
    match exported {
        Some(p) if p != 0.0 && !p.is_nan() => finite_or_zero(p),
        _ => finite_or_zero(pricing.storage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_strings_parse_as_opencost_does() {
        assert_eq!(parse_percent("discount", "30%").unwrap(), 0.3);
        assert_eq!(parse_percent("discount", "30").unwrap(), 0.3);
        assert!((parse_percent("discount", "0.3").unwrap() - 0.003).abs() < 1e-15);
        assert_eq!(parse_percent("discount", "").unwrap(), 0.0);
        assert!(parse_percent("discount", "lots").is_err());
    }

    #[test]
    fn a_file_overrides_what_it_names() {
        let p = CustomPricing::from_json(
            r#"{"provider":"custom","CPU":"0.04","spotCPU":0.01,"RAM":"","discount":"20%",
                "negotiatedDiscount":"10","customPricesEnabled":"true","awsSpotDataBucket":"x"}"#,
        )
        .unwrap();
        assert_eq!(p.cpu, 0.04);
        assert_eq!(p.spot_cpu, 0.01);
        assert_eq!(p.ram, DEFAULT_RAM_PRICE);
        assert!(p.custom_prices_enabled);
        // 1 − 0.8 × 0.9 = 0.28.
        assert!((p.combined_discount() - 0.28).abs() < 1e-12);
        assert!(matches!(CustomPricing::from_json(r#"{"CPU":"cheap"}"#), Err(PricingError::Number { .. })));
        assert!(matches!(CustomPricing::from_json("[]"), Err(PricingError::Format(_))));
    }

    #[test]
    fn get_node_pricing_fallbacks() {
        let d = CustomPricing::default();
        let e = |cpu: f64, ram: f64, gpu: f64| ExportedPrices { cpu, ram, gpu };
        // 0 and NaN take the default; +Inf becomes 0.
        let p = node_prices(Some(&e(0.0, f64::NAN, f64::INFINITY)), false, &d);
        assert_eq!((p.cpu, p.ram, p.gpu), (DEFAULT_CPU_PRICE, DEFAULT_RAM_PRICE, 0.0));
        assert_eq!(p.source, "prometheus/customCPU/customRAM");
        // A spot node falls back to the spot defaults; a NaN GPU to the (empty) spot GPU.
        let p = node_prices(Some(&e(0.0, 0.0, f64::NAN)), true, &d);
        assert_eq!((p.cpu, p.ram, p.gpu), (DEFAULT_SPOT_CPU_PRICE, DEFAULT_SPOT_RAM_PRICE, 0.0));
        // No series at all: defaults, GPU included.
        let p = node_prices(None, false, &d);
        assert_eq!((p.cpu, p.gpu, p.source.as_str()), (DEFAULT_CPU_PRICE, DEFAULT_GPU_PRICE, "default"));
        // The exporter's prices win when usable; a missing GPU price stays 0.
        let p = node_prices(Some(&e(0.031247, 0.004188, 0.0)), false, &d);
        assert_eq!((p.cpu, p.ram, p.gpu, p.source.as_str()), (0.031247, 0.004188, 0.0, "prometheus"));
        // Custom prices on: the file's, whatever the exporter says.
        let custom = CustomPricing { custom_prices_enabled: true, cpu: 0.05, ..CustomPricing::default() };
        assert_eq!(node_prices(Some(&e(0.031247, 0.004188, 0.0)), false, &custom).cpu, 0.05);
    }

    #[test]
    fn storage_falls_back_to_the_default() {
        let d = CustomPricing::default();
        assert_eq!(storage_price(None, &d), DEFAULT_STORAGE_PRICE);
        assert_eq!(storage_price(Some(0.0), &d), DEFAULT_STORAGE_PRICE);
        assert_eq!(storage_price(Some(f64::INFINITY), &d), 0.0);
        assert_eq!(storage_price(Some(0.000137), &d), 0.000137);
    }
}
