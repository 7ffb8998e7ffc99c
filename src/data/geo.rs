//! US geography for synthetic addresses and merchant locations: states with their population,
//! real cities with their ZIP code and coordinates, foreign merchant places, and street names.

/// A US state (or the District of Columbia).
#[derive(Debug, Clone, Copy)]
pub struct State {
    /// Two-letter postal code, e.g. "CA".
    pub code: &'static str,
    /// Full name, e.g. "California".
    pub name: &'static str,
    /// approximate 2019 population in millions
    pub population_m: f64,
}

/// Compact constructor for [`STATES`].
const fn s(code: &'static str, name: &'static str, population_m: f64) -> State {
    State {
        code,
        name,
        population_m,
    }
}

/// The 50 states plus DC (51), sorted by code.
#[rustfmt::skip]
pub const STATES: [State; 51] = [
    s("AK", "Alaska", 0.73),           s("AL", "Alabama", 4.90),         s("AR", "Arkansas", 3.02),
    s("AZ", "Arizona", 7.28),          s("CA", "California", 39.51),     s("CO", "Colorado", 5.76),
    s("CT", "Connecticut", 3.57),      s("DC", "District of Columbia", 0.71), s("DE", "Delaware", 0.97),
    s("FL", "Florida", 21.48),         s("GA", "Georgia", 10.62),        s("HI", "Hawaii", 1.42),
    s("IA", "Iowa", 3.16),             s("ID", "Idaho", 1.79),           s("IL", "Illinois", 12.67),
    s("IN", "Indiana", 6.73),          s("KS", "Kansas", 2.91),          s("KY", "Kentucky", 4.47),
    s("LA", "Louisiana", 4.65),        s("MA", "Massachusetts", 6.89),   s("MD", "Maryland", 6.05),
    s("ME", "Maine", 1.34),            s("MI", "Michigan", 9.99),        s("MN", "Minnesota", 5.64),
    s("MO", "Missouri", 6.14),         s("MS", "Mississippi", 2.98),     s("MT", "Montana", 1.07),
    s("NC", "North Carolina", 10.49),  s("ND", "North Dakota", 0.76),    s("NE", "Nebraska", 1.93),
    s("NH", "New Hampshire", 1.36),    s("NJ", "New Jersey", 8.88),      s("NM", "New Mexico", 2.10),
    s("NV", "Nevada", 3.08),           s("NY", "New York", 19.45),       s("OH", "Ohio", 11.69),
    s("OK", "Oklahoma", 3.96),         s("OR", "Oregon", 4.22),          s("PA", "Pennsylvania", 12.80),
    s("RI", "Rhode Island", 1.06),     s("SC", "South Carolina", 5.15),  s("SD", "South Dakota", 0.88),
    s("TN", "Tennessee", 6.83),        s("TX", "Texas", 29.00),          s("UT", "Utah", 3.21),
    s("VA", "Virginia", 8.54),         s("VT", "Vermont", 0.62),         s("WA", "Washington", 7.61),
    s("WI", "Wisconsin", 5.82),        s("WV", "West Virginia", 1.79),   s("WY", "Wyoming", 0.58),
];

/// A real US city (or, in DC, one ZIP area of Washington).
#[derive(Debug, Clone, Copy)]
pub struct City {
    /// City name as it appears in addresses.
    pub name: &'static str,
    /// Two-letter code of the state the city is in.
    pub state: &'static str,
    /// real 5-digit ZIP of the city centre (as a number: 1022 means "01022")
    pub zip: u32,
    /// Latitude of the centre in degrees north.
    pub lat: f64,
    /// Longitude of the centre in degrees east (negative in the US).
    pub lon: f64,
}

/// Compact constructor for [`CITIES`].
const fn c(name: &'static str, state: &'static str, zip: u32, lat: f64, lon: f64) -> City {
    City {
        name,
        state,
        zip,
        lat,
        lon,
    }
}

/// At least 4 real cities per state (in DC, Washington appears once per ZIP area), big cities and
/// small towns, with their real ZIP code and approximate latitude/longitude, grouped by state.
#[rustfmt::skip]
pub const CITIES: &[City] = &[
    c("Anchorage", "AK", 99501, 61.22, -149.90), c("Fairbanks", "AK", 99701, 64.84, -147.72),
    c("Juneau", "AK", 99801, 58.30, -134.42), c("Wasilla", "AK", 99654, 61.58, -149.44),
    c("Ketchikan", "AK", 99901, 55.34, -131.64), c("Kodiak", "AK", 99615, 57.79, -152.41),
    c("Birmingham", "AL", 35203, 33.52, -86.81), c("Montgomery", "AL", 36104, 32.38, -86.30),
    c("Mobile", "AL", 36602, 30.69, -88.04), c("Huntsville", "AL", 35801, 34.73, -86.59),
    c("Tuscaloosa", "AL", 35401, 33.21, -87.57), c("Dothan", "AL", 36301, 31.22, -85.39),
    c("Auburn", "AL", 36830, 32.61, -85.48),
    c("Little Rock", "AR", 72201, 34.75, -92.29), c("Fayetteville", "AR", 72701, 36.06, -94.16),
    c("Fort Smith", "AR", 72901, 35.39, -94.40), c("Jonesboro", "AR", 72401, 35.84, -90.70),
    c("Hot Springs", "AR", 71901, 34.50, -93.06), c("Conway", "AR", 72032, 35.09, -92.44),
    c("Phoenix", "AZ", 85004, 33.45, -112.07), c("Tucson", "AZ", 85701, 32.22, -110.97),
    c("Mesa", "AZ", 85201, 33.42, -111.83), c("Flagstaff", "AZ", 86001, 35.20, -111.65),
    c("Yuma", "AZ", 85364, 32.69, -114.63), c("Scottsdale", "AZ", 85251, 33.49, -111.93),
    c("Prescott", "AZ", 86301, 34.54, -112.47),
    c("Los Angeles", "CA", 90012, 34.05, -118.24), c("San Francisco", "CA", 94102, 37.78, -122.42),
    c("San Diego", "CA", 92101, 32.72, -117.16), c("San Jose", "CA", 95113, 37.34, -121.89),
    c("Sacramento", "CA", 95814, 38.58, -121.49), c("Fresno", "CA", 93721, 36.74, -119.79),
    c("Oakland", "CA", 94612, 37.80, -122.27), c("Long Beach", "CA", 90802, 33.77, -118.19),
    c("Bakersfield", "CA", 93301, 35.37, -119.02), c("Anaheim", "CA", 92805, 33.84, -117.91),
    c("Riverside", "CA", 92501, 33.98, -117.38), c("Santa Barbara", "CA", 93101, 34.42, -119.70),
    c("Redding", "CA", 96001, 40.59, -122.39), c("Eureka", "CA", 95501, 40.80, -124.16),
    c("Palm Springs", "CA", 92262, 33.83, -116.55), c("Stockton", "CA", 95202, 37.96, -121.29),
    c("Irvine", "CA", 92614, 33.68, -117.83),
    c("Denver", "CO", 80202, 39.75, -104.99), c("Colorado Springs", "CO", 80903, 38.83, -104.82),
    c("Boulder", "CO", 80302, 40.01, -105.27), c("Fort Collins", "CO", 80521, 40.59, -105.08),
    c("Pueblo", "CO", 81003, 38.27, -104.61), c("Grand Junction", "CO", 81501, 39.06, -108.55),
    c("Aurora", "CO", 80012, 39.70, -104.84),
    c("Hartford", "CT", 6103, 41.77, -72.67), c("New Haven", "CT", 6510, 41.31, -72.92),
    c("Bridgeport", "CT", 6604, 41.18, -73.19), c("Stamford", "CT", 6901, 41.05, -73.54),
    c("Waterbury", "CT", 6702, 41.56, -73.04), c("Norwich", "CT", 6360, 41.52, -72.08),
    c("Torrington", "CT", 6790, 41.80, -73.12),
    c("Washington", "DC", 20001, 38.91, -77.02), c("Washington", "DC", 20002, 38.90, -76.99),
    c("Washington", "DC", 20009, 38.92, -77.04), c("Washington", "DC", 20016, 38.94, -77.09),
    c("Wilmington", "DE", 19801, 39.74, -75.55), c("Dover", "DE", 19901, 39.16, -75.52),
    c("Newark", "DE", 19711, 39.68, -75.75), c("Lewes", "DE", 19958, 38.77, -75.14),
    c("Middletown", "DE", 19709, 39.45, -75.72), c("Seaford", "DE", 19973, 38.64, -75.61),
    c("Miami", "FL", 33130, 25.77, -80.20), c("Orlando", "FL", 32801, 28.54, -81.38),
    c("Tampa", "FL", 33602, 27.95, -82.46), c("Jacksonville", "FL", 32202, 30.33, -81.66),
    c("Tallahassee", "FL", 32301, 30.44, -84.28), c("Fort Lauderdale", "FL", 33301, 26.12, -80.14),
    c("St. Petersburg", "FL", 33701, 27.77, -82.64), c("Gainesville", "FL", 32601, 29.65, -82.32),
    c("Pensacola", "FL", 32502, 30.41, -87.22), c("Key West", "FL", 33040, 24.56, -81.78),
    c("Naples", "FL", 34102, 26.14, -81.79), c("West Palm Beach", "FL", 33401, 26.71, -80.05),
    c("Hialeah", "FL", 33010, 25.83, -80.28),
    c("Atlanta", "GA", 30303, 33.75, -84.39), c("Savannah", "GA", 31401, 32.08, -81.09),
    c("Augusta", "GA", 30901, 33.47, -81.97), c("Macon", "GA", 31201, 32.84, -83.63),
    c("Columbus", "GA", 31901, 32.46, -84.99), c("Athens", "GA", 30601, 33.96, -83.38),
    c("Valdosta", "GA", 31601, 30.83, -83.28),
    c("Honolulu", "HI", 96813, 21.31, -157.86), c("Hilo", "HI", 96720, 19.72, -155.09),
    c("Kailua", "HI", 96734, 21.40, -157.74), c("Kahului", "HI", 96732, 20.89, -156.47),
    c("Lihue", "HI", 96766, 21.98, -159.37), c("Pearl City", "HI", 96782, 21.40, -157.97),
    c("Des Moines", "IA", 50309, 41.59, -93.62), c("Cedar Rapids", "IA", 52401, 41.98, -91.67),
    c("Davenport", "IA", 52801, 41.52, -90.58), c("Iowa City", "IA", 52240, 41.66, -91.53),
    c("Sioux City", "IA", 51101, 42.50, -96.40), c("Bettendorf", "IA", 52722, 41.52, -90.52),
    c("Dubuque", "IA", 52001, 42.50, -90.66), c("Ames", "IA", 50010, 42.03, -93.62),
    c("Boise", "ID", 83702, 43.62, -116.20), c("Idaho Falls", "ID", 83402, 43.49, -112.04),
    c("Pocatello", "ID", 83201, 42.87, -112.45), c("Coeur d'Alene", "ID", 83814, 47.68, -116.78),
    c("Twin Falls", "ID", 83301, 42.56, -114.46), c("Nampa", "ID", 83651, 43.58, -116.56),
    c("Chicago", "IL", 60601, 41.89, -87.62), c("Springfield", "IL", 62701, 39.80, -89.65),
    c("Peoria", "IL", 61602, 40.69, -89.59), c("Rockford", "IL", 61101, 42.29, -89.11),
    c("Naperville", "IL", 60540, 41.77, -88.15), c("Champaign", "IL", 61820, 40.12, -88.24),
    c("Joliet", "IL", 60432, 41.53, -88.08), c("Aurora", "IL", 60505, 41.76, -88.30),
    c("Indianapolis", "IN", 46204, 39.77, -86.16), c("Fort Wayne", "IN", 46802, 41.08, -85.14),
    c("Evansville", "IN", 47708, 37.97, -87.57), c("South Bend", "IN", 46601, 41.68, -86.25),
    c("Bloomington", "IN", 47404, 39.17, -86.53), c("Gary", "IN", 46402, 41.60, -87.34),
    c("Lafayette", "IN", 47901, 40.42, -86.89),
    c("Wichita", "KS", 67202, 37.69, -97.34), c("Topeka", "KS", 66603, 39.05, -95.68),
    c("Kansas City", "KS", 66101, 39.12, -94.63), c("Overland Park", "KS", 66212, 38.96, -94.68),
    c("Lawrence", "KS", 66044, 38.97, -95.24), c("Manhattan", "KS", 66502, 39.18, -96.57),
    c("Dodge City", "KS", 67801, 37.75, -100.02),
    c("Louisville", "KY", 40202, 38.25, -85.76), c("Lexington", "KY", 40507, 38.05, -84.50),
    c("Bowling Green", "KY", 42101, 36.99, -86.44), c("Frankfort", "KY", 40601, 38.20, -84.87),
    c("Owensboro", "KY", 42301, 37.77, -87.11), c("Paducah", "KY", 42001, 37.08, -88.60),
    c("Pikeville", "KY", 41501, 37.48, -82.52),
    c("New Orleans", "LA", 70112, 29.96, -90.08), c("Baton Rouge", "LA", 70801, 30.45, -91.19),
    c("Shreveport", "LA", 71101, 32.51, -93.75), c("Lafayette", "LA", 70501, 30.22, -92.02),
    c("Lake Charles", "LA", 70601, 30.23, -93.22), c("Monroe", "LA", 71201, 32.51, -92.12),
    c("Boston", "MA", 2108, 42.36, -71.06), c("Worcester", "MA", 1608, 42.26, -71.80),
    c("Springfield", "MA", 1103, 42.10, -72.59), c("Cambridge", "MA", 2139, 42.36, -71.10),
    c("Lowell", "MA", 1852, 42.63, -71.32), c("Pittsfield", "MA", 1201, 42.45, -73.25),
    c("New Bedford", "MA", 2740, 41.64, -70.93), c("Hyannis", "MA", 2601, 41.65, -70.29),
    c("Chicopee", "MA", 1020, 42.15, -72.61),
    c("Baltimore", "MD", 21202, 39.29, -76.61), c("Annapolis", "MD", 21401, 38.98, -76.49),
    c("Frederick", "MD", 21701, 39.41, -77.41), c("Rockville", "MD", 20850, 39.08, -77.15),
    c("Silver Spring", "MD", 20910, 38.99, -77.03), c("Hagerstown", "MD", 21740, 39.64, -77.72),
    c("Salisbury", "MD", 21801, 38.37, -75.60), c("Ocean City", "MD", 21842, 38.34, -75.08),
    c("Portland", "ME", 4101, 43.66, -70.26), c("Bangor", "ME", 4401, 44.80, -68.77),
    c("Augusta", "ME", 4330, 44.31, -69.78), c("Lewiston", "ME", 4240, 44.10, -70.21),
    c("Bar Harbor", "ME", 4609, 44.39, -68.20), c("Presque Isle", "ME", 4769, 46.68, -68.02),
    c("Detroit", "MI", 48226, 42.33, -83.05), c("Grand Rapids", "MI", 49503, 42.96, -85.67),
    c("Lansing", "MI", 48933, 42.73, -84.55), c("Ann Arbor", "MI", 48104, 42.27, -83.73),
    c("Flint", "MI", 48502, 43.01, -83.69), c("Kalamazoo", "MI", 49007, 42.29, -85.59),
    c("Marquette", "MI", 49855, 46.54, -87.40), c("Traverse City", "MI", 49684, 44.76, -85.62),
    c("Minneapolis", "MN", 55401, 44.98, -93.27), c("Saint Paul", "MN", 55102, 44.94, -93.10),
    c("Duluth", "MN", 55802, 46.78, -92.10), c("Rochester", "MN", 55902, 44.01, -92.48),
    c("Bloomington", "MN", 55420, 44.84, -93.29), c("St. Cloud", "MN", 56301, 45.54, -94.17),
    c("Mankato", "MN", 56001, 44.16, -94.00), c("Moorhead", "MN", 56560, 46.87, -96.77),
    c("Kansas City", "MO", 64106, 39.10, -94.58), c("St. Louis", "MO", 63101, 38.63, -90.19),
    c("Springfield", "MO", 65806, 37.21, -93.30), c("Columbia", "MO", 65201, 38.95, -92.33),
    c("Jefferson City", "MO", 65101, 38.58, -92.17), c("Joplin", "MO", 64801, 37.08, -94.51),
    c("Cape Girardeau", "MO", 63701, 37.31, -89.52),
    c("Jackson", "MS", 39201, 32.30, -90.18), c("Gulfport", "MS", 39501, 30.37, -89.09),
    c("Hattiesburg", "MS", 39401, 31.33, -89.29), c("Tupelo", "MS", 38801, 34.26, -88.70),
    c("Biloxi", "MS", 39530, 30.40, -88.89), c("Oxford", "MS", 38655, 34.37, -89.52),
    c("Meridian", "MS", 39301, 32.36, -88.70),
    c("Billings", "MT", 59101, 45.78, -108.50), c("Missoula", "MT", 59801, 46.87, -113.99),
    c("Great Falls", "MT", 59401, 47.50, -111.30), c("Bozeman", "MT", 59715, 45.68, -111.04),
    c("Helena", "MT", 59601, 46.59, -112.04), c("Butte", "MT", 59701, 46.00, -112.53),
    c("Kalispell", "MT", 59901, 48.20, -114.31),
    c("Charlotte", "NC", 28202, 35.23, -80.84), c("Raleigh", "NC", 27601, 35.78, -78.64),
    c("Greensboro", "NC", 27401, 36.07, -79.79), c("Durham", "NC", 27701, 36.00, -78.90),
    c("Asheville", "NC", 28801, 35.60, -82.55), c("Wilmington", "NC", 28401, 34.24, -77.95),
    c("Fayetteville", "NC", 28301, 35.05, -78.88), c("Boone", "NC", 28607, 36.22, -81.67),
    c("Bismarck", "ND", 58501, 46.81, -100.78), c("Fargo", "ND", 58102, 46.92, -96.83),
    c("Minot", "ND", 58701, 48.23, -101.30), c("Beulah", "ND", 58523, 47.26, -101.78),
    c("Grand Forks", "ND", 58201, 47.92, -97.07), c("Williston", "ND", 58801, 48.15, -103.62),
    c("Dickinson", "ND", 58601, 46.88, -102.79), c("Jamestown", "ND", 58401, 46.91, -98.71),
    c("Omaha", "NE", 68102, 41.26, -95.93), c("Lincoln", "NE", 68508, 40.82, -96.70),
    c("Grand Island", "NE", 68801, 40.93, -98.34), c("Kearney", "NE", 68847, 40.70, -99.08),
    c("North Platte", "NE", 69101, 41.12, -100.77), c("Scottsbluff", "NE", 69361, 41.87, -103.66),
    c("Norfolk", "NE", 68701, 42.03, -97.42),
    c("Manchester", "NH", 3101, 42.99, -71.46), c("Concord", "NH", 3301, 43.21, -71.54),
    c("Nashua", "NH", 3060, 42.77, -71.47), c("Portsmouth", "NH", 3801, 43.07, -70.76),
    c("Keene", "NH", 3431, 42.93, -72.28), c("Hanover", "NH", 3755, 43.70, -72.29),
    c("Dover", "NH", 3820, 43.20, -70.87),
    c("Newark", "NJ", 7102, 40.74, -74.17), c("Jersey City", "NJ", 7302, 40.72, -74.05),
    c("Trenton", "NJ", 8608, 40.22, -74.76), c("Paterson", "NJ", 7501, 40.92, -74.17),
    c("Camden", "NJ", 8102, 39.95, -75.12), c("Atlantic City", "NJ", 8401, 39.36, -74.43),
    c("New Brunswick", "NJ", 8901, 40.49, -74.45), c("Princeton", "NJ", 8540, 40.35, -74.66),
    c("Cape May", "NJ", 8204, 38.94, -74.91),
    c("Albuquerque", "NM", 87102, 35.08, -106.65), c("Santa Fe", "NM", 87501, 35.69, -105.94),
    c("Las Cruces", "NM", 88001, 32.31, -106.78), c("Roswell", "NM", 88201, 33.39, -104.52),
    c("Farmington", "NM", 87401, 36.73, -108.21), c("Gallup", "NM", 87301, 35.53, -108.74),
    c("Las Vegas", "NV", 89101, 36.17, -115.14), c("Reno", "NV", 89501, 39.53, -119.81),
    c("Henderson", "NV", 89015, 36.04, -114.98), c("Carson City", "NV", 89701, 39.16, -119.77),
    c("Elko", "NV", 89801, 40.83, -115.76), c("Sparks", "NV", 89431, 39.54, -119.75),
    c("New York", "NY", 10001, 40.75, -73.99), c("Brooklyn", "NY", 11201, 40.69, -73.99),
    c("Bronx", "NY", 10451, 40.82, -73.92), c("Staten Island", "NY", 10301, 40.63, -74.09),
    c("Buffalo", "NY", 14202, 42.89, -78.88), c("Rochester", "NY", 14604, 43.16, -77.61),
    c("Syracuse", "NY", 13202, 43.05, -76.15), c("Albany", "NY", 12207, 42.65, -73.75),
    c("Yonkers", "NY", 10701, 40.93, -73.90), c("Ithaca", "NY", 14850, 42.44, -76.50),
    c("Binghamton", "NY", 13901, 42.10, -75.91), c("Plattsburgh", "NY", 12901, 44.70, -73.45),
    c("Columbus", "OH", 43215, 39.96, -83.00), c("Cleveland", "OH", 44113, 41.49, -81.69),
    c("Cincinnati", "OH", 45202, 39.10, -84.51), c("Toledo", "OH", 43604, 41.65, -83.54),
    c("Akron", "OH", 44308, 41.08, -81.52), c("Dayton", "OH", 45402, 39.76, -84.19),
    c("Youngstown", "OH", 44503, 41.10, -80.65), c("Athens", "OH", 45701, 39.33, -82.10),
    c("Oklahoma City", "OK", 73102, 35.47, -97.52), c("Tulsa", "OK", 74103, 36.15, -95.99),
    c("Norman", "OK", 73069, 35.22, -97.44), c("Lawton", "OK", 73501, 34.60, -98.39),
    c("Stillwater", "OK", 74074, 36.12, -97.06), c("Enid", "OK", 73701, 36.40, -97.88),
    c("Muskogee", "OK", 74401, 35.75, -95.37),
    c("Portland", "OR", 97204, 45.52, -122.68), c("Eugene", "OR", 97401, 44.05, -123.09),
    c("Salem", "OR", 97301, 44.94, -123.03), c("Bend", "OR", 97701, 44.06, -121.31),
    c("Medford", "OR", 97501, 42.33, -122.87), c("Astoria", "OR", 97103, 46.19, -123.83),
    c("Pendleton", "OR", 97801, 45.67, -118.79),
    c("Philadelphia", "PA", 19107, 39.95, -75.16), c("Pittsburgh", "PA", 15222, 40.45, -79.99),
    c("Harrisburg", "PA", 17101, 40.26, -76.88), c("Allentown", "PA", 18101, 40.60, -75.47),
    c("Erie", "PA", 16501, 42.13, -80.09), c("Scranton", "PA", 18503, 41.41, -75.66),
    c("Lancaster", "PA", 17602, 40.04, -76.31), c("State College", "PA", 16801, 40.79, -77.86),
    c("Providence", "RI", 2903, 41.82, -71.41), c("Warwick", "RI", 2886, 41.70, -71.46),
    c("Newport", "RI", 2840, 41.49, -71.31), c("Cranston", "RI", 2910, 41.77, -71.43),
    c("Pawtucket", "RI", 2860, 41.88, -71.38), c("Westerly", "RI", 2891, 41.38, -71.83),
    c("Woonsocket", "RI", 2895, 42.00, -71.51),
    c("Columbia", "SC", 29201, 34.00, -81.03), c("Charleston", "SC", 29401, 32.78, -79.93),
    c("Greenville", "SC", 29601, 34.85, -82.40), c("Myrtle Beach", "SC", 29577, 33.69, -78.89),
    c("Spartanburg", "SC", 29301, 34.95, -81.93), c("Rock Hill", "SC", 29730, 34.92, -81.03),
    c("Florence", "SC", 29501, 34.20, -79.76),
    c("Sioux Falls", "SD", 57104, 43.55, -96.73), c("Rapid City", "SD", 57701, 44.08, -103.23),
    c("Pierre", "SD", 57501, 44.37, -100.35), c("Aberdeen", "SD", 57401, 45.46, -98.49),
    c("Brookings", "SD", 57006, 44.31, -96.80), c("Watertown", "SD", 57201, 44.90, -97.12),
    c("Spearfish", "SD", 57783, 44.49, -103.86),
    c("Nashville", "TN", 37203, 36.15, -86.79), c("Memphis", "TN", 38103, 35.15, -90.05),
    c("Knoxville", "TN", 37902, 35.96, -83.92), c("Chattanooga", "TN", 37402, 35.05, -85.31),
    c("Clarksville", "TN", 37040, 36.53, -87.36), c("Jackson", "TN", 38301, 35.61, -88.81),
    c("Johnson City", "TN", 37601, 36.31, -82.35), c("Murfreesboro", "TN", 37130, 35.85, -86.39),
    c("Houston", "TX", 77002, 29.76, -95.37), c("Dallas", "TX", 75201, 32.79, -96.80),
    c("San Antonio", "TX", 78205, 29.42, -98.49), c("Austin", "TX", 78701, 30.27, -97.74),
    c("Fort Worth", "TX", 76102, 32.75, -97.33), c("El Paso", "TX", 79901, 31.76, -106.49),
    c("Corpus Christi", "TX", 78401, 27.80, -97.40), c("Lubbock", "TX", 79401, 33.58, -101.85),
    c("Amarillo", "TX", 79101, 35.21, -101.83), c("Laredo", "TX", 78040, 27.51, -99.50),
    c("Brownsville", "TX", 78520, 25.92, -97.49), c("Waco", "TX", 76701, 31.55, -97.14),
    c("Plano", "TX", 75074, 33.03, -96.68), c("Midland", "TX", 79701, 32.00, -102.08),
    c("Tyler", "TX", 75701, 32.33, -95.30),
    c("Salt Lake City", "UT", 84101, 40.76, -111.89), c("Provo", "UT", 84601, 40.23, -111.66),
    c("Ogden", "UT", 84401, 41.22, -111.97), c("St. George", "UT", 84770, 37.10, -113.58),
    c("Logan", "UT", 84321, 41.74, -111.83), c("Moab", "UT", 84532, 38.57, -109.55),
    c("Richmond", "VA", 23219, 37.54, -77.44), c("Virginia Beach", "VA", 23451, 36.85, -75.98),
    c("Norfolk", "VA", 23510, 36.85, -76.29), c("Arlington", "VA", 22201, 38.89, -77.09),
    c("Alexandria", "VA", 22314, 38.80, -77.05), c("Roanoke", "VA", 24011, 37.27, -79.94),
    c("Charlottesville", "VA", 22902, 38.03, -78.48), c("Harrisonburg", "VA", 22801, 38.45, -78.87),
    c("Burlington", "VT", 5401, 44.48, -73.21), c("Montpelier", "VT", 5602, 44.26, -72.58),
    c("Rutland", "VT", 5701, 43.61, -72.97), c("Brattleboro", "VT", 5301, 42.85, -72.56),
    c("St. Johnsbury", "VT", 5819, 44.42, -72.02), c("Bennington", "VT", 5201, 42.88, -73.20),
    c("Seattle", "WA", 98101, 47.61, -122.33), c("Spokane", "WA", 99201, 47.66, -117.43),
    c("Tacoma", "WA", 98402, 47.25, -122.44), c("Vancouver", "WA", 98660, 45.64, -122.68),
    c("Olympia", "WA", 98501, 47.04, -122.90), c("Bellingham", "WA", 98225, 48.75, -122.48),
    c("Yakima", "WA", 98901, 46.60, -120.51), c("Bellevue", "WA", 98004, 47.62, -122.20),
    c("Milwaukee", "WI", 53202, 43.04, -87.90), c("Madison", "WI", 53703, 43.08, -89.38),
    c("Green Bay", "WI", 54301, 44.51, -88.01), c("Eau Claire", "WI", 54701, 44.81, -91.50),
    c("La Crosse", "WI", 54601, 43.81, -91.24), c("Oshkosh", "WI", 54901, 44.02, -88.54),
    c("Wausau", "WI", 54401, 44.96, -89.63),
    c("Charleston", "WV", 25301, 38.35, -81.63), c("Morgantown", "WV", 26501, 39.63, -79.96),
    c("Huntington", "WV", 25701, 38.42, -82.44), c("Wheeling", "WV", 26003, 40.06, -80.72),
    c("Parkersburg", "WV", 26101, 39.27, -81.56), c("Beckley", "WV", 25801, 37.78, -81.19),
    c("Cheyenne", "WY", 82001, 41.14, -104.82), c("Casper", "WY", 82601, 42.85, -106.32),
    c("Laramie", "WY", 82070, 41.31, -105.59), c("Gillette", "WY", 82716, 44.29, -105.50),
    c("Rock Springs", "WY", 82901, 41.59, -109.20), c("Jackson", "WY", 83001, 43.48, -110.76),
    c("Sheridan", "WY", 82801, 44.80, -106.96),
];

/// A merchant location outside the US.
#[derive(Debug, Clone, Copy)]
pub struct ForeignPlace {
    /// Country name, which the dataset puts in `merchant_state`.
    pub country: &'static str,
    /// City name, which the dataset puts in `merchant_city`.
    pub city: &'static str,
}

/// Compact constructor for [`FOREIGN`].
const fn f(country: &'static str, city: &'static str) -> ForeignPlace {
    ForeignPlace { country, city }
}

/// Foreign merchant locations: the country name is what the dataset puts in `merchant_state`.
#[rustfmt::skip]
pub const FOREIGN: &[ForeignPlace] = &[
    f("Italy", "Rome"), f("Italy", "Milan"), f("Haiti", "Port-au-Prince"), f("Mexico", "Cancun"),
    f("Mexico", "Mexico City"), f("Canada", "Toronto"), f("Canada", "Vancouver"),
    f("United Kingdom", "London"), f("Dominican Republic", "Punta Cana"),
    f("Dominican Republic", "Santo Domingo"), f("Jamaica", "Montego Bay"), f("Japan", "Tokyo"),
    f("China", "Shanghai"), f("India", "Mumbai"), f("Philippines", "Manila"), f("Nigeria", "Lagos"),
    f("Germany", "Berlin"), f("France", "Paris"), f("Spain", "Barcelona"),
    f("Netherlands", "Amsterdam"), f("Israel", "Tel Aviv"), f("Brazil", "Sao Paulo"),
    f("Costa Rica", "San Jose"), f("Bahamas", "Nassau"), f("South Korea", "Seoul"),
    f("Ireland", "Dublin"), f("Greece", "Athens"), f("Turkey", "Istanbul"),
];

/// Common US street names, for addresses like "462 Rose Lane".
#[rustfmt::skip]
pub const STREET_NAMES: &[&str] = &[
    "Rose", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Main", "Park",
    "Walnut", "Sunset", "Lincoln", "Jackson", "Church", "River", "Willow", "Highland", "Meadow",
    "Forest", "Spruce", "Chestnut", "Jefferson", "Madison", "Franklin", "Adams", "Ridge", "Valley",
    "Spring", "Birch", "Hickory", "Dogwood", "Magnolia", "Poplar", "Sycamore", "Cherry",
    "Hillcrest", "Lakeview", "Center", "Mill", "North", "South", "East", "West", "Broad", "Market",
    "Water", "Union", "Front", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Grant",
    "Wilson", "Monroe", "Harrison", "King", "Prospect", "Pleasant", "Summit", "Bay", "Ocean",
    "Cottage", "Orchard", "Green", "Grove", "Laurel", "Aspen", "Fairview", "Woodland", "Sunrise",
    "Cypress", "Lafayette", "Hamilton", "Vine", "Mountain View",
];

/// Street suffixes, for addresses like "462 Rose Lane".
#[rustfmt::skip]
pub const STREET_SUFFIXES: &[&str] = &[
    "Lane", "Street", "Avenue", "Drive", "Boulevard", "Court", "Way", "Road", "Place", "Circle",
    "Terrace", "Trail", "Parkway",
];

/// Cities of one state, in table order.
pub fn cities_in(state: &str) -> impl Iterator<Item = &'static City> {
    CITIES.iter().filter(move |c| c.state == state)
}

/// The state with this two-letter code.
pub fn state(code: &str) -> Option<&'static State> {
    // A `const` has no address of its own; a `static` copy gives the references a 'static home.
    static TABLE: [State; 51] = STATES;
    TABLE
        .binary_search_by(|s| s.code.cmp(code))
        .ok()
        .map(|i| &TABLE[i])
}

/// The city whose centre is nearest to (lat, lon) (squared-degree distance, longitude scaled by
/// cos(lat)).
pub fn nearest_city(lat: f64, lon: f64) -> &'static City {
    let scale = lat.to_radians().cos();
    let distance = |c: &City| {
        let (dy, dx) = (c.lat - lat, (c.lon - lon) * scale);
        dy * dy + dx * dx
    };
    CITIES
        .iter()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .expect("CITIES is not empty")
}

/// ZIP as the dataset's 5-character zero-padded text.
pub fn zip_text(zip: u32) -> String {
    format!("{zip:05}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn fifty_one_distinct_sorted_states() {
        assert_eq!(STATES.len(), 51);
        assert!(
            STATES.windows(2).all(|w| w[0].code < w[1].code),
            "sorted and distinct"
        );
        for s in &STATES {
            assert_eq!(s.code.len(), 2);
            assert!(s.code.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(!s.name.is_empty());
            assert!(s.population_m > 0.5 && s.population_m < 40.0, "{}", s.code);
            assert_eq!(state(s.code).map(|t| t.name), Some(s.name));
        }
        assert_eq!(state("CA").map(|s| s.name), Some("California"));
        assert!(state("XX").is_none() && state("").is_none() && state("ca").is_none());
        let total: f64 = STATES.iter().map(|s| s.population_m).sum();
        assert!((320.0..340.0).contains(&total), "{total}");
    }

    #[test]
    fn every_state_has_at_least_four_cities() {
        for s in &STATES {
            let n = cities_in(s.code).count();
            assert!(n >= 4, "{} has {n} cities", s.code);
            assert!(cities_in(s.code).all(|c| c.state == s.code));
        }
        assert_eq!(cities_in("XX").count(), 0);
    }

    #[test]
    fn cities_are_well_formed() {
        let mut seen = HashSet::new();
        for c in CITIES {
            assert!(
                state(c.state).is_some(),
                "{} has unknown state {}",
                c.name,
                c.state
            );
            assert!(!c.name.is_empty() && c.name.is_ascii(), "{}", c.name);
            assert!((501..=99950).contains(&c.zip), "{} {}", c.name, c.zip);
            assert!((18.0..72.0).contains(&c.lat), "{} lat {}", c.name, c.lat);
            assert!((-180.0..-66.0).contains(&c.lon), "{} lon {}", c.name, c.lon);
            assert!(seen.insert(c.zip), "zip {} repeated", c.zip);
            if c.state != "DC" {
                assert_eq!(
                    CITIES
                        .iter()
                        .filter(|d| d.state == c.state && d.name == c.name)
                        .count(),
                    1,
                    "{}, {} repeated",
                    c.name,
                    c.state
                );
            }
        }
    }

    #[test]
    fn zip_first_digit_matches_state() {
        let first_digit = |state: &str| -> u32 {
            match state {
                "CT" | "MA" | "ME" | "NH" | "NJ" | "RI" | "VT" => 0,
                "DE" | "NY" | "PA" => 1,
                "DC" | "MD" | "NC" | "SC" | "VA" | "WV" => 2,
                "AL" | "FL" | "GA" | "MS" | "TN" => 3,
                "IN" | "KY" | "MI" | "OH" => 4,
                "IA" | "MN" | "MT" | "ND" | "SD" | "WI" => 5,
                "IL" | "KS" | "MO" | "NE" => 6,
                "AR" | "LA" | "OK" | "TX" => 7,
                "AZ" | "CO" | "ID" | "NM" | "NV" | "UT" | "WY" => 8,
                "AK" | "CA" | "HI" | "OR" | "WA" => 9,
                other => panic!("no ZIP region for {other}"),
            }
        };
        for c in CITIES {
            assert_eq!(
                c.zip / 10_000,
                first_digit(c.state),
                "{}, {} {}",
                c.name,
                c.state,
                c.zip
            );
        }
        for s in ["CT", "MA", "ME", "NH", "NJ", "RI", "VT"] {
            assert!(
                cities_in(s).all(|c| zip_text(c.zip).starts_with('0')),
                "{s}"
            );
        }
        for s in ["CA", "WA", "OR"] {
            assert!(
                cities_in(s).all(|c| zip_text(c.zip).starts_with('9')),
                "{s}"
            );
        }
    }

    #[test]
    fn nearest_city_stays_in_state() {
        for c in CITIES {
            let n = nearest_city(c.lat, c.lon);
            assert_eq!(
                n.state, c.state,
                "{}, {} -> {}, {}",
                c.name, c.state, n.name, n.state
            );
        }
        assert_eq!(nearest_city(40.76, -73.98).name, "New York");
        assert_eq!(nearest_city(46.9, -96.8).state, "ND");
    }

    #[test]
    fn zip_text_pads_to_five() {
        assert_eq!(zip_text(1022), "01022");
        assert_eq!(zip_text(501), "00501");
        assert_eq!(zip_text(99950), "99950");
        assert!(CITIES.iter().all(|c| zip_text(c.zip).len() == 5));
    }

    #[test]
    fn foreign_places_are_not_states() {
        assert!(FOREIGN.len() >= 20);
        for p in FOREIGN {
            assert!(state(p.country).is_none(), "{}", p.country);
            assert!(STATES.iter().all(|s| s.name != p.country), "{}", p.country);
            assert!(p.country.len() > 2 && p.country.is_ascii() && !p.city.is_empty());
        }
    }

    #[test]
    fn street_names_and_suffixes() {
        assert!(STREET_NAMES.len() >= 60);
        assert!(STREET_SUFFIXES.len() >= 10);
        let names: HashSet<&str> = STREET_NAMES.iter().copied().collect();
        assert_eq!(names.len(), STREET_NAMES.len(), "no repeated street names");
        let suffixes: HashSet<&str> = STREET_SUFFIXES.iter().copied().collect();
        assert_eq!(suffixes.len(), STREET_SUFFIXES.len());
        assert!(
            STREET_NAMES
                .iter()
                .chain(STREET_SUFFIXES)
                .all(|s| !s.is_empty() && s.is_ascii())
        );
    }
}
