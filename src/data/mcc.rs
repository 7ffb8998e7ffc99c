//! Merchant category codes (ISO 18245) used by the public Kaggle "Transactions Fraud Datasets"
//! (computingvictor), with the traits the synthetic generator needs to pick categories and amounts.
//!
//! The code set is exactly the dataset's 109 codes. Descriptions are the standard network wording;
//! for the 3000-3999 brand range (airlines, car rentals, hotels) that is the brand name, which the
//! dataset's own `mcc_codes.json` replaces with unrelated industry labels.

/// One merchant category with the traits the synthetic generator needs.
#[derive(Debug, Clone, Copy)]
pub struct MccInfo {
    /// The four-digit merchant category code.
    pub code: u16,
    /// Plain-ASCII description of the category.
    pub description: &'static str,
    /// Relative frequency among ordinary (legitimate) in-person transactions. Everyday categories
    /// (groceries 5411, restaurants 5812, fast food 5814, service stations 5541, misc food 5499,
    /// drug stores 5912, discount 5310, department 5311, wholesale 5300, tolls 4784, money transfer 4829) dominate;
    /// airlines, hotels, hospitals, precious metals are rare. Sum need not be 1.
    pub in_person_weight: f64,
    /// Relative frequency among legitimate online transactions (0.0 when the category is never online:
    /// e.g. service stations, car washes, barbers). Online-heavy: 5815/5816 digital goods, 4814 telecom,
    /// 4899 cable/streaming, 4900 utilities, 5311, 5732, 5942, 4829, airlines, hotels, 6300 insurance.
    pub online_weight: f64,
    /// Relative frequency among FRAUDULENT transactions: skewed toward categories fraudsters favour
    /// (4784 tolls and bridge fees, 5732 electronics, 5094 jewelry, 4829 money transfer, 5311, 5310,
    /// 5300, 7801/7995 betting, 5815/5816 digital goods, airlines, 5045 computers) and low for
    /// utilities, doctors, government services.
    pub fraud_weight: f64,
    /// Typical (median) legitimate ticket in US dollars, e.g. fast food 9, groceries 40, service
    /// stations 35, tolls 6, restaurants 28, department stores 60, electronics 120, airlines 350,
    /// hotels 180, hospitals 450, jewelry 300, utilities 110.
    pub median_amount: f64,
}

/// Compact constructor for the table below.
const fn m(
    code: u16,
    description: &'static str,
    in_person_weight: f64,
    online_weight: f64,
    fraud_weight: f64,
    median_amount: f64,
) -> MccInfo {
    MccInfo {
        code,
        description,
        in_person_weight,
        online_weight,
        fraud_weight,
        median_amount,
    }
}

/// All 109 categories, sorted by code.
#[rustfmt::skip]
pub const MCC_CODES: [MccInfo; 109] = [
    //  code  description                                                  in-person online  fraud  median $
    m(1711, "Heating, Plumbing, Air Conditioning Contractors",                 0.30, 0.10, 0.10, 150.0),
    m(3000, "United Airlines",                                                 0.05, 0.60, 0.80, 350.0),
    m(3001, "American Airlines",                                               0.05, 0.60, 0.80, 350.0),
    m(3005, "British Airways",                                                 0.02, 0.30, 0.50, 650.0),
    m(3006, "Japan Airlines",                                                  0.02, 0.20, 0.40, 800.0),
    m(3007, "Air France",                                                      0.02, 0.25, 0.50, 600.0),
    m(3008, "Lufthansa",                                                       0.02, 0.25, 0.50, 600.0),
    m(3009, "Air Canada",                                                      0.02, 0.30, 0.50, 400.0),
    m(3058, "Delta Air Lines",                                                 0.05, 0.70, 0.80, 350.0),
    m(3066, "Southwest Airlines",                                              0.05, 0.70, 0.70, 250.0),
    m(3075, "Singapore Airlines",                                              0.01, 0.15, 0.40, 900.0),
    m(3132, "Frontier Airlines",                                               0.03, 0.30, 0.50, 180.0),
    m(3144, "Virgin Atlantic",                                                 0.01, 0.20, 0.40, 700.0),
    m(3174, "JetBlue Airways",                                                 0.03, 0.40, 0.60, 250.0),
    m(3256, "Alaska Airlines",                                                 0.03, 0.30, 0.50, 280.0),
    m(3260, "Spirit Airlines",                                                 0.03, 0.30, 0.50, 160.0),
    m(3359, "Payless Car Rental",                                              0.03, 0.10, 0.20, 220.0),
    m(3387, "Alamo Rent-A-Car",                                                0.04, 0.15, 0.30, 250.0),
    m(3389, "Avis Rent-A-Car",                                                 0.05, 0.20, 0.30, 260.0),
    m(3390, "Dollar Rent-A-Car",                                               0.04, 0.15, 0.30, 240.0),
    m(3393, "National Car Rental",                                             0.04, 0.15, 0.30, 260.0),
    m(3395, "Thrifty Car Rental",                                              0.04, 0.15, 0.30, 230.0),
    m(3405, "Enterprise Rent-A-Car",                                           0.06, 0.20, 0.30, 250.0),
    m(3504, "Hilton Hotels",                                                   0.06, 0.40, 0.50, 190.0),
    m(3509, "Marriott",                                                        0.06, 0.45, 0.50, 200.0),
    m(3596, "Wynn Las Vegas",                                                  0.02, 0.10, 0.30, 300.0),
    m(3640, "Hyatt Hotels",                                                    0.04, 0.30, 0.40, 210.0),
    m(3684, "Budget Host Inns",                                                0.03, 0.10, 0.15,  90.0),
    m(3722, "Wyndham Hotels and Resorts",                                      0.04, 0.25, 0.30, 150.0),
    m(3730, "MGM Grand Hotel",                                                 0.02, 0.10, 0.30, 250.0),
    m(3771, "Caesars Hotel and Casino",                                        0.02, 0.10, 0.30, 250.0),
    m(3775, "Sands Resort",                                                    0.02, 0.08, 0.20, 220.0),
    m(3780, "Disney Resorts",                                                  0.02, 0.15, 0.25, 350.0),
    m(4111, "Local and Suburban Commuter Transportation",                      3.00, 0.80, 0.30,   5.0),
    m(4112, "Passenger Railways",                                              0.60, 0.80, 0.40,  60.0),
    m(4121, "Taxicabs and Limousines",                                         4.00, 2.00, 1.00,  18.0),
    m(4131, "Bus Lines",                                                       0.50, 0.40, 0.20,  30.0),
    m(4214, "Motor Freight Carriers and Trucking",                             0.15, 0.20, 0.20, 300.0),
    m(4411, "Steamship and Cruise Lines",                                      0.02, 0.20, 0.40, 900.0),
    m(4511, "Airlines and Air Carriers",                                       0.05, 0.80, 1.00, 350.0),
    m(4722, "Travel Agencies and Tour Operators",                              0.10, 1.00, 1.00, 400.0),
    m(4784, "Tolls and Bridge Fees",                                           5.00, 0.50, 6.00,   6.0),
    m(4814, "Telecommunication Services",                                      1.00, 5.00, 1.50,  70.0),
    m(4829, "Money Transfer",                                                  4.50, 4.00, 6.00, 100.0),
    m(4899, "Cable, Satellite, and Other Pay Television and Radio Services",   0.30, 4.00, 0.80,  60.0),
    m(4900, "Utilities - Electric, Gas, Water, Sanitary",                      0.80, 6.00, 0.20, 110.0),
    m(5045, "Computers, Computer Peripheral Equipment, and Software",          0.20, 0.80, 3.00, 250.0),
    m(5094, "Precious Stones and Metals, Watches and Jewelry",                 0.10, 0.30, 4.00, 300.0),
    m(5192, "Books, Periodicals, and Newspapers",                              0.30, 1.00, 0.30,  20.0),
    m(5193, "Florists Supplies, Nursery Stock, and Flowers",                   0.40, 0.50, 0.30,  45.0),
    m(5211, "Lumber and Building Materials Stores",                            1.00, 0.30, 0.60,  80.0),
    m(5251, "Hardware Stores",                                                 1.50, 0.40, 0.60,  35.0),
    m(5261, "Lawn and Garden Supply Stores",                                   0.60, 0.20, 0.30,  45.0),
    m(5300, "Wholesale Clubs",                                                 4.50, 1.00, 4.00,  90.0),
    m(5310, "Discount Stores",                                                 3.50, 1.20, 4.00,  35.0),
    m(5311, "Department Stores",                                               3.50, 4.00, 5.00,  60.0),
    m(5411, "Grocery Stores, Supermarkets",                                   13.00, 1.50, 4.00,  40.0),
    m(5499, "Miscellaneous Food Stores",                                      11.00, 0.50, 3.00,  12.0),
    m(5533, "Automotive Parts and Accessories Stores",                         0.80, 0.40, 0.50,  45.0),
    m(5541, "Service Stations",                                               11.00, 0.00, 3.00,  35.0),
    m(5621, "Women's Ready-to-Wear Stores",                                    0.50, 1.20, 0.80,  55.0),
    m(5651, "Family Clothing Stores",                                          0.80, 1.50, 1.20,  50.0),
    m(5655, "Sports and Riding Apparel Stores",                                0.30, 0.80, 0.60,  60.0),
    m(5661, "Shoe Stores",                                                     0.60, 1.20, 1.00,  65.0),
    m(5712, "Furniture, Home Furnishings, and Equipment Stores",               0.30, 0.80, 0.80, 250.0),
    m(5719, "Miscellaneous Home Furnishing Specialty Stores",                  0.50, 0.80, 0.60,  50.0),
    m(5722, "Household Appliance Stores",                                      0.20, 0.60, 1.20, 300.0),
    m(5732, "Electronics Stores",                                              1.00, 3.00, 6.00, 120.0),
    m(5733, "Music Stores - Musical Instruments, Pianos, and Sheet Music",     0.20, 0.50, 0.60,  60.0),
    m(5812, "Eating Places and Restaurants",                                   8.00, 0.80, 3.00,  28.0),
    m(5813, "Drinking Places (Alcoholic Beverages)",                           1.50, 0.00, 1.00,  25.0),
    m(5814, "Fast Food Restaurants",                                           6.00, 1.00, 2.00,   9.0),
    m(5815, "Digital Goods - Media, Books, Movies, Music",                     0.20, 5.00, 4.00,  12.0),
    m(5816, "Digital Goods - Games",                                           0.10, 4.00, 4.00,  15.0),
    m(5912, "Drug Stores and Pharmacies",                                      6.00, 1.50, 2.00,  25.0),
    m(5921, "Package Stores - Beer, Wine, and Liquor",                         1.20, 0.30, 0.60,  30.0),
    m(5932, "Antique Shops",                                                   0.20, 0.30, 0.40,  80.0),
    m(5941, "Sporting Goods Stores",                                           0.70, 1.20, 1.50,  60.0),
    m(5942, "Book Stores",                                                     0.80, 3.00, 1.00,  22.0),
    m(5947, "Gift, Card, Novelty, and Souvenir Shops",                         0.80, 0.80, 1.20,  25.0),
    m(5970, "Artist Supply and Craft Shops",                                   0.50, 0.80, 0.50,  30.0),
    m(5977, "Cosmetic Stores",                                                 0.70, 1.50, 1.50,  35.0),
    m(6300, "Insurance Sales, Underwriting, and Premiums",                     0.20, 3.00, 0.30, 150.0),
    m(7011, "Lodging - Hotels, Motels, Resorts",                               0.30, 1.50, 1.50, 180.0),
    m(7210, "Laundry, Cleaning, and Garment Services",                         0.80, 0.00, 0.20,  20.0),
    m(7230, "Beauty and Barber Shops",                                         1.50, 0.00, 0.30,  35.0),
    m(7276, "Tax Preparation Services",                                        0.20, 0.80, 0.20, 150.0),
    m(7349, "Cleaning, Maintenance, and Janitorial Services",                  0.40, 0.30, 0.30, 120.0),
    m(7393, "Detective Agencies, Protective Agencies, and Security Services",  0.10, 0.50, 0.20,  80.0),
    m(7531, "Automotive Body Repair Shops",                                    0.30, 0.00, 0.20, 600.0),
    m(7538, "Automotive Service Shops",                                        2.00, 0.00, 0.60, 120.0),
    m(7542, "Car Washes",                                                      1.00, 0.00, 0.30,  15.0),
    m(7549, "Towing Services",                                                 0.20, 0.00, 0.10, 120.0),
    m(7801, "Government-Licensed Online Casinos (Online Gambling)",            0.10, 1.00, 3.00,  50.0),
    m(7802, "Government-Licensed Horse/Dog Racing",                            0.30, 0.50, 1.00,  40.0),
    m(7832, "Motion Picture Theaters",                                         1.20, 1.00, 0.60,  25.0),
    m(7922, "Theatrical Producers and Ticket Agencies",                        0.40, 1.50, 1.50,  90.0),
    m(7995, "Betting, including Lottery Tickets, Casino Gaming Chips",         0.50, 0.80, 3.00,  50.0),
    m(7996, "Amusement Parks, Carnivals, Circuses",                            0.50, 1.00, 0.80,  70.0),
    m(8011, "Doctors and Physicians",                                          1.20, 0.30, 0.10, 150.0),
    m(8021, "Dentists and Orthodontists",                                      1.00, 0.20, 0.10, 180.0),
    m(8041, "Chiropractors",                                                   0.50, 0.10, 0.05,  70.0),
    m(8043, "Opticians, Optical Goods, and Eyeglasses",                        0.40, 0.40, 0.20, 150.0),
    m(8049, "Podiatrists and Chiropodists",                                    0.30, 0.10, 0.05, 100.0),
    m(8062, "Hospitals",                                                       0.30, 0.40, 0.10, 450.0),
    m(8099, "Medical Services and Health Practitioners",                       0.60, 0.50, 0.20, 120.0),
    m(8111, "Legal Services and Attorneys",                                    0.20, 0.50, 0.10, 300.0),
    m(8931, "Accounting, Auditing, and Bookkeeping Services",                  0.20, 0.50, 0.10, 200.0),
    m(9402, "Postal Services - Government Only",                               0.80, 0.30, 0.10,  12.0),
];

/// Looks a code up (binary search).
pub fn lookup(code: u16) -> Option<&'static MccInfo> {
    // A `const` has no address of its own; a `static` copy gives the references a 'static home.
    static TABLE: [MccInfo; 109] = MCC_CODES;
    TABLE
        .binary_search_by_key(&code, |m| m.code)
        .ok()
        .map(|i| &TABLE[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn exactly_109_distinct_sorted_codes() {
        assert_eq!(MCC_CODES.len(), 109);
        let distinct: HashSet<u16> = MCC_CODES.iter().map(|m| m.code).collect();
        assert_eq!(distinct.len(), 109);
        assert!(
            MCC_CODES.windows(2).all(|w| w[0].code < w[1].code),
            "sorted ascending"
        );
        assert_eq!(MCC_CODES[0].code, 1711);
        assert_eq!(MCC_CODES[108].code, 9402);
        assert!(MCC_CODES.iter().all(|m| (1000..=9999).contains(&m.code)));
    }

    #[test]
    fn named_codes_have_their_descriptions() {
        let expected = [
            (1711, "Heating, Plumbing, Air Conditioning Contractors"),
            (4121, "Taxicabs and Limousines"),
            (4784, "Tolls and Bridge Fees"),
            (4814, "Telecommunication Services"),
            (4829, "Money Transfer"),
            (
                4899,
                "Cable, Satellite, and Other Pay Television and Radio Services",
            ),
            (4900, "Utilities - Electric, Gas, Water, Sanitary"),
            (5094, "Precious Stones and Metals, Watches and Jewelry"),
            (5300, "Wholesale Clubs"),
            (5311, "Department Stores"),
            (5411, "Grocery Stores, Supermarkets"),
            (5499, "Miscellaneous Food Stores"),
            (5541, "Service Stations"),
            (5732, "Electronics Stores"),
            (5812, "Eating Places and Restaurants"),
            (5814, "Fast Food Restaurants"),
            (5912, "Drug Stores and Pharmacies"),
            (9402, "Postal Services - Government Only"),
        ];
        for (code, description) in expected {
            let info = lookup(code).unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!(info.code, code);
            assert_eq!(info.description, description, "{code}");
        }
    }

    #[test]
    fn lookup_finds_every_code_and_nothing_else() {
        for info in &MCC_CODES {
            assert_eq!(lookup(info.code).map(|m| m.code), Some(info.code));
        }
        for absent in [0, 1710, 1712, 5412, 9401, 9403, u16::MAX] {
            assert!(lookup(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn weights_and_amounts_are_sane() {
        for info in &MCC_CODES {
            for w in [info.in_person_weight, info.online_weight, info.fraud_weight] {
                assert!(w.is_finite() && w >= 0.0, "{}: {w}", info.code);
            }
            assert!(
                info.median_amount.is_finite() && info.median_amount > 0.0,
                "{}",
                info.code
            );
            assert!(!info.description.trim().is_empty(), "{}", info.code);
            assert!(info.description.is_ascii(), "{}", info.code);
            // Every category can occur somewhere, and fraud can land on every category.
            assert!(
                info.in_person_weight + info.online_weight > 0.0,
                "{}",
                info.code
            );
            assert!(info.fraud_weight > 0.0, "{}", info.code);
        }
        let sum = |f: fn(&MccInfo) -> f64| MCC_CODES.iter().map(f).sum::<f64>();
        assert!(sum(|m| m.in_person_weight) > 0.0);
        assert!(sum(|m| m.online_weight) > 0.0);
        assert!(sum(|m| m.fraud_weight) > 0.0);
    }

    #[test]
    fn weights_follow_the_described_shape() {
        let get = |code| lookup(code).expect("present");
        // Everyday categories dominate in person; rare ones stay rare.
        for everyday in [5411, 5812, 5541, 5499] {
            for rare in [3000, 3509, 8062, 5094, 7011] {
                assert!(get(everyday).in_person_weight > 10.0 * get(rare).in_person_weight);
            }
        }
        // Never-online categories.
        for offline in [5541, 7542, 7230] {
            assert_eq!(get(offline).online_weight, 0.0, "{offline}");
        }
        // Fraud skews to tolls, electronics and money transfer, away from utilities and doctors.
        for favoured in [4784, 5732, 4829] {
            for avoided in [4900, 8011, 9402] {
                assert!(get(favoured).fraud_weight > 10.0 * get(avoided).fraud_weight);
            }
        }
        assert!(get(5814).median_amount < get(5411).median_amount);
        assert!(get(5411).median_amount < get(3000).median_amount);
    }
}
