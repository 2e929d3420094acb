/// Small embedded name lists. Each entry is (as printed, as used in an email) so emails need no
/// Unicode folding at generation time, and the accents, apostrophes and hyphens that break naive
/// roster code (José, Zoë, O'Brien, García-López) show up in every district.
enum Names {
    static let first: [(display: String, ascii: String)] = [
        ("Olivia", "olivia"), ("Liam", "liam"), ("Emma", "emma"), ("Noah", "noah"), ("Ava", "ava"),
        ("Mateo", "mateo"), ("Sophia", "sophia"), ("Elijah", "elijah"), ("Isabella", "isabella"),
        ("Lucas", "lucas"), ("Mia", "mia"), ("Ethan", "ethan"), ("Amelia", "amelia"), ("James", "james"),
        ("Harper", "harper"), ("Benjamin", "benjamin"), ("Evelyn", "evelyn"), ("Henry", "henry"),
        ("Aaliyah", "aaliyah"), ("Jackson", "jackson"), ("Camila", "camila"), ("Sebastian", "sebastian"),
        ("Luna", "luna"), ("Daniel", "daniel"), ("Chloé", "chloe"), ("José", "jose"), ("Zoë", "zoe"),
        ("Renée", "renee"), ("Joaquín", "joaquin"), ("Björn", "bjorn"), ("Siobhán", "siobhan"),
        ("Nguyễn", "nguyen"), ("Anaïs", "anais"), ("Élodie", "elodie"), ("Søren", "soren"),
        ("Mary-Kate", "mary-kate"), ("Jean-Luc", "jean-luc"), ("Ana Sofía", "anasofia"), ("Wei", "wei"),
        ("Priya", "priya"), ("Arjun", "arjun"), ("Fatima", "fatima"), ("Omar", "omar"), ("Yuki", "yuki"),
        ("Hiroshi", "hiroshi"), ("Aisha", "aisha"), ("Kwame", "kwame"), ("Ximena", "ximena"),
        ("Santiago", "santiago"), ("Valentina", "valentina"), ("Dmitri", "dmitri"), ("Ingrid", "ingrid"),
        ("Malik", "malik"), ("Imani", "imani"), ("Declan", "declan"), ("Niamh", "niamh"), ("Ravi", "ravi"),
        ("Leilani", "leilani"), ("Kai", "kai"), ("Grace", "grace"), ("Samuel", "samuel"), ("Layla", "layla"),
        ("DeShawn", "deshawn"), ("Thandiwe", "thandiwe"),
    ]

    static let last: [(display: String, ascii: String)] = [
        ("Smith", "smith"), ("Johnson", "johnson"), ("Williams", "williams"), ("Brown", "brown"),
        ("Jones", "jones"), ("Garcia", "garcia"), ("Miller", "miller"), ("Davis", "davis"),
        ("Rodríguez", "rodriguez"), ("Martínez", "martinez"), ("Hernández", "hernandez"), ("López", "lopez"),
        ("González", "gonzalez"), ("Wilson", "wilson"), ("Anderson", "anderson"), ("Thomas", "thomas"),
        ("Taylor", "taylor"), ("Moore", "moore"), ("Jackson", "jackson"), ("Martin", "martin"), ("Lee", "lee"),
        ("Pérez", "perez"), ("Thompson", "thompson"), ("White", "white"), ("Harris", "harris"),
        ("Sánchez", "sanchez"), ("Clark", "clark"), ("Ramírez", "ramirez"), ("Lewis", "lewis"),
        ("Robinson", "robinson"), ("O'Brien", "obrien"), ("O'Connor", "oconnor"), ("McDonald", "mcdonald"),
        ("García-López", "garcia-lopez"), ("Smith-Jones", "smith-jones"), ("Nguyen", "nguyen"),
        ("Tran", "tran"), ("Kim", "kim"), ("Park", "park"), ("Chen", "chen"), ("Wang", "wang"),
        ("Patel", "patel"), ("Shah", "shah"), ("Okafor", "okafor"), ("Adeyemi", "adeyemi"),
        ("Müller", "muller"), ("Schröder", "schroder"), ("Øvergaard", "overgaard"), ("Dubois", "dubois"),
        ("Lefèvre", "lefevre"), ("Kowalski", "kowalski"), ("Novák", "novak"), ("Ivanova", "ivanova"),
        ("Yamamoto", "yamamoto"), ("Tanaka", "tanaka"), ("Haddad", "haddad"), ("Cohen", "cohen"),
        ("da Silva", "dasilva"), ("Van der Berg", "vanderberg"), ("St. James", "stjames"),
        ("Begay", "begay"), ("Kealoha", "kealoha"), ("Mensah", "mensah"), ("Rossi", "rossi"),
    ]

    static let middleInitials = ["A", "B", "C", "D", "E", "J", "K", "L", "M", "R", "S", "T"]

    /// The number of distinct (first, last) pairs: people beyond it get a numeric email suffix.
    static var pairCount: Int { first.count * last.count }

    static let districtNames: [(name: String, slug: String, city: String)] = [
        ("Maple Valley Unified School District", "maplevalley", "Maple Valley"),
        ("Cedar Ridge Public Schools", "cedarridge", "Cedar Ridge"),
        ("Riverbend Independent School District", "riverbend", "Riverbend"),
        ("Lakeshore Community Schools", "lakeshore", "Lakeshore"),
        ("Sierra Vista Unified", "sierravista", "Sierra Vista"),
        ("Harbor Point School District", "harborpoint", "Harbor Point"),
    ]

    static let schoolStems = [
        "Lincoln", "Roosevelt", "Jefferson", "Sequoia", "Valle Verde", "César Chávez", "Maya Angelou",
        "Oak Grove", "Riverside", "Hillcrest", "Sunnyslope", "Pine Hollow", "Eastside", "Westview",
        "Sojourner Truth", "Mountain View", "Bayside", "Meadowbrook", "Frederick Douglass", "Willow Creek",
    ]
}
