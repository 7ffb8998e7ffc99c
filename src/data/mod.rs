//! The source data: its model, reference tables, the public dataset's files, and a synthetic
//! generator with the same shape and statistics.

pub mod export;
pub mod generate;
pub mod geo;
pub mod kaggle;
pub mod mcc;
pub mod model;
pub mod stats;
pub mod tsv;
