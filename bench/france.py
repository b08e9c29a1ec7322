"""French vocabulary for the benchmark data: cities, regions, names, labels.

Plain data, shared by the generator (database rows) and the benchmark (the CSV file it imports).
Populations are in thousands; they weight how many institutions a city gets, so Paris, Marseille
and Lyon dominate as they do in real files.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class City:
    name: str
    postal_codes: tuple[str, ...]
    region: str
    population: int  # thousands
    has_chu: bool = False

    @property
    def department(self) -> str:
        """The FINESS prefix: the département (2A/2B in Corsica)."""
        code = self.postal_codes[0]
        if code.startswith("20"):
            return "2A" if code < "20200" else "2B"
        return code[:2]


def _codes(prefix: str, first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{n:03d}" for n in range(first, last + 1))


IDF, ARA, PACA, OCC = "Île-de-France", "Auvergne-Rhône-Alpes", "Provence-Alpes-Côte d'Azur", "Occitanie"
NAQ, HDF, GES, PDL = "Nouvelle-Aquitaine", "Hauts-de-France", "Grand Est", "Pays de la Loire"
BRE, NOR, BFC, CVL = "Bretagne", "Normandie", "Bourgogne-Franche-Comté", "Centre-Val de Loire"
COR, REU, MTQ, GLP, GUF = "Corse", "La Réunion", "Martinique", "Guadeloupe", "Guyane"

CITIES: tuple[City, ...] = (
    City("Paris", _codes("75", 1, 20), IDF, 2100, True),
    City("Boulogne-Billancourt", ("92100",), IDF, 121),
    City("Saint-Denis", ("93200",), IDF, 113),
    City("Argenteuil", ("95100",), IDF, 110),
    City("Montreuil", ("93100",), IDF, 111),
    City("Nanterre", ("92000",), IDF, 96),
    City("Créteil", ("94000",), IDF, 92),
    City("Versailles", ("78000",), IDF, 85),
    City("Vitry-sur-Seine", ("94400",), IDF, 95),
    City("Aubervilliers", ("93300",), IDF, 88),
    City("Colombes", ("92700",), IDF, 86),
    City("Asnières-sur-Seine", ("92600",), IDF, 87),
    City("Courbevoie", ("92400",), IDF, 82),
    City("Rueil-Malmaison", ("92500",), IDF, 78),
    City("Champigny-sur-Marne", ("94500",), IDF, 77),
    City("Saint-Maur-des-Fossés", ("94100",), IDF, 75),
    City("Neuilly-sur-Seine", ("92200",), IDF, 60),
    City("Clamart", ("92140",), IDF, 53),
    City("Évry-Courcouronnes", ("91000",), IDF, 67),
    City("Meaux", ("77100",), IDF, 55),
    City("Cergy", ("95000",), IDF, 66),
    City("Melun", ("77000",), IDF, 40),
    City("Le Kremlin-Bicêtre", ("94270",), IDF, 26),
    City("Villejuif", ("94800",), IDF, 56),
    City("Clichy", ("92110",), IDF, 63),
    City("Suresnes", ("92150",), IDF, 48),
    City("Poissy", ("78300",), IDF, 38),
    City("Lyon", _codes("69", 1, 9), ARA, 1100, True),  # with the inner suburbs' clinics
    City("Saint-Étienne", ("42000", "42100"), ARA, 173, True),
    City("Grenoble", ("38000", "38100"), ARA, 158, True),
    City("Villeurbanne", ("69100",), ARA, 150),
    City("Clermont-Ferrand", ("63000", "63100"), ARA, 147, True),
    City("Annecy", ("74000",), ARA, 130),
    City("Chambéry", ("73000",), ARA, 59),
    City("Valence", ("26000",), ARA, 64),
    City("Bron", ("69500",), ARA, 42),
    City("Vénissieux", ("69200",), ARA, 66),
    City("Roanne", ("42300",), ARA, 34),
    City("Bourg-en-Bresse", ("01000",), ARA, 41),
    City("Aurillac", ("15000",), ARA, 25),
    City("Le Puy-en-Velay", ("43000",), ARA, 19),
    City("Montluçon", ("03100",), ARA, 34),
    City("Vichy", ("03200",), ARA, 25),
    City("Marseille", _codes("13", 1, 16), PACA, 1300, True),
    City("Nice", ("06000", "06100", "06200", "06300"), PACA, 342, True),
    City("Toulon", ("83000", "83100", "83200"), PACA, 179),
    City("Aix-en-Provence", ("13090", "13100"), PACA, 147),
    City("Avignon", ("84000",), PACA, 91),
    City("Antibes", ("06600",), PACA, 73),
    City("Cannes", ("06400",), PACA, 74),
    City("La Seyne-sur-Mer", ("83500",), PACA, 62),
    City("Hyères", ("83400",), PACA, 56),
    City("Fréjus", ("83600",), PACA, 54),
    City("Arles", ("13200",), PACA, 51),
    City("Gap", ("05000",), PACA, 41),
    City("Digne-les-Bains", ("04000",), PACA, 16),
    City("Toulouse", ("31000", "31100", "31200", "31300", "31400", "31500"), OCC, 498, True),
    City("Montpellier", ("34000", "34070", "34080", "34090"), OCC, 299, True),
    City("Nîmes", ("30000", "30900"), OCC, 148, True),
    City("Perpignan", ("66000", "66100"), OCC, 121),
    City("Béziers", ("34500",), OCC, 79),
    City("Narbonne", ("11100",), OCC, 55),
    City("Albi", ("81000",), OCC, 49),
    City("Carcassonne", ("11000",), OCC, 46),
    City("Tarbes", ("65000",), OCC, 42),
    City("Montauban", ("82000",), OCC, 61),
    City("Castres", ("81100",), OCC, 42),
    City("Rodez", ("12000",), OCC, 24),
    City("Sète", ("34200",), OCC, 44),
    City("Cahors", ("46000",), OCC, 19),
    City("Auch", ("32000",), OCC, 22),
    City("Mende", ("48000",), OCC, 12),
    City("Foix", ("09000",), OCC, 10),
    City("Lourdes", ("65100",), OCC, 13),
    City("Bordeaux", ("33000", "33100", "33200", "33300", "33800"), NAQ, 260, True),
    City("Limoges", ("87000", "87100"), NAQ, 130, True),
    City("Poitiers", ("86000",), NAQ, 89, True),
    City("Pau", ("64000",), NAQ, 77),
    City("La Rochelle", ("17000",), NAQ, 77),
    City("Mérignac", ("33700",), NAQ, 72),
    City("Pessac", ("33600",), NAQ, 65),
    City("Bayonne", ("64100",), NAQ, 52),
    City("Angoulême", ("16000",), NAQ, 42),
    City("Niort", ("79000",), NAQ, 59),
    City("Périgueux", ("24000",), NAQ, 30),
    City("Agen", ("47000",), NAQ, 32),
    City("Mont-de-Marsan", ("40000",), NAQ, 30),
    City("Brive-la-Gaillarde", ("19100",), NAQ, 46),
    City("Biarritz", ("64200",), NAQ, 25),
    City("Talence", ("33400",), NAQ, 44),
    City("Lille", ("59000", "59160", "59260", "59777", "59800"), HDF, 235, True),
    City("Amiens", ("80000", "80080", "80090"), HDF, 134, True),
    City("Roubaix", ("59100",), HDF, 98),
    City("Tourcoing", ("59200",), HDF, 98),
    City("Dunkerque", ("59140", "59240"), HDF, 86),
    City("Calais", ("62100",), HDF, 67),
    City("Villeneuve-d'Ascq", ("59491", "59650"), HDF, 62),
    City("Saint-Quentin", ("02100",), HDF, 53),
    City("Beauvais", ("60000",), HDF, 56),
    City("Arras", ("62000",), HDF, 41),
    City("Boulogne-sur-Mer", ("62200",), HDF, 40),
    City("Valenciennes", ("59300",), HDF, 43),
    City("Lens", ("62300",), HDF, 31),
    City("Douai", ("59500",), HDF, 39),
    City("Compiègne", ("60200",), HDF, 40),
    City("Laon", ("02000",), HDF, 24),
    City("Strasbourg", ("67000", "67100", "67200"), GES, 290, True),
    City("Reims", ("51100",), GES, 180, True),
    City("Metz", ("57000", "57050", "57070"), GES, 120),
    City("Mulhouse", ("68100", "68200"), GES, 108),
    City("Nancy", ("54000", "54100"), GES, 105, True),
    City("Colmar", ("68000",), GES, 67),
    City("Troyes", ("10000",), GES, 61),
    City("Charleville-Mézières", ("08000",), GES, 46),
    City("Châlons-en-Champagne", ("51000",), GES, 44),
    City("Épinal", ("88000",), GES, 31),
    City("Thionville", ("57100",), GES, 41),
    City("Haguenau", ("67500",), GES, 35),
    City("Verdun", ("55100",), GES, 17),
    City("Chaumont", ("52000",), GES, 22),
    City("Bar-le-Duc", ("55000",), GES, 15),
    City("Sélestat", ("67600",), GES, 19),
    City("Nantes", ("44000", "44100", "44200", "44300"), PDL, 320, True),
    City("Angers", ("49000", "49100"), PDL, 157, True),
    City("Le Mans", ("72000", "72100"), PDL, 143),
    City("Saint-Nazaire", ("44600",), PDL, 72),
    City("Cholet", ("49300",), PDL, 54),
    City("La Roche-sur-Yon", ("85000",), PDL, 57),
    City("Laval", ("53000",), PDL, 50),
    City("Saint-Herblain", ("44800",), PDL, 48),
    City("Rezé", ("44400",), PDL, 42),
    City("Les Sables-d'Olonne", ("85100",), PDL, 48),
    City("Rennes", ("35000", "35200", "35700"), BRE, 222, True),
    City("Brest", ("29200",), BRE, 140, True),
    City("Quimper", ("29000",), BRE, 63),
    City("Lorient", ("56100",), BRE, 57),
    City("Vannes", ("56000",), BRE, 54),
    City("Saint-Malo", ("35400",), BRE, 47),
    City("Saint-Brieuc", ("22000",), BRE, 44),
    City("Lannion", ("22300",), BRE, 20),
    City("Morlaix", ("29600",), BRE, 15),
    City("Pontivy", ("56300",), BRE, 15),
    City("Le Havre", ("76600", "76610", "76620"), NOR, 166),
    City("Rouen", ("76000", "76100"), NOR, 114, True),
    City("Caen", ("14000",), NOR, 106, True),
    City("Cherbourg-en-Cotentin", ("50100",), NOR, 78),
    City("Évreux", ("27000",), NOR, 47),
    City("Dieppe", ("76200",), NOR, 28),
    City("Alençon", ("61000",), NOR, 26),
    City("Lisieux", ("14100",), NOR, 20),
    City("Saint-Lô", ("50000",), NOR, 19),
    City("Dijon", ("21000",), BFC, 159, True),
    City("Besançon", ("25000",), BFC, 120, True),
    City("Belfort", ("90000",), BFC, 46),
    City("Chalon-sur-Saône", ("71100",), BFC, 45),
    City("Auxerre", ("89000",), BFC, 35),
    City("Nevers", ("58000",), BFC, 33),
    City("Mâcon", ("71000",), BFC, 34),
    City("Montbéliard", ("25200",), BFC, 25),
    City("Dole", ("39100",), BFC, 24),
    City("Sens", ("89100",), BFC, 27),
    City("Vesoul", ("70000",), BFC, 15),
    City("Lons-le-Saunier", ("39000",), BFC, 17),
    City("Tours", ("37000", "37100", "37200"), CVL, 137, True),
    City("Orléans", ("45000", "45100"), CVL, 117, True),
    City("Bourges", ("18000",), CVL, 64),
    City("Blois", ("41000",), CVL, 46),
    City("Châteauroux", ("36000",), CVL, 43),
    City("Chartres", ("28000",), CVL, 38),
    City("Dreux", ("28100",), CVL, 31),
    City("Vierzon", ("18100",), CVL, 25),
    City("Montargis", ("45200",), CVL, 14),
    City("Ajaccio", ("20000", "20090"), COR, 72),
    City("Bastia", ("20200", "20600"), COR, 48),
    City("Porto-Vecchio", ("20137",), COR, 12),
    City("Saint-Denis", ("97400",), REU, 153, True),
    City("Saint-Pierre", ("97410",), REU, 84),
    City("Fort-de-France", ("97200",), MTQ, 76, True),
    City("Les Abymes", ("97139",), GLP, 53),
    City("Pointe-à-Pitre", ("97110",), GLP, 15, True),
    City("Cayenne", ("97300",), GUF, 63),
)

#: Teams of the benchmark, each covering a few regions (a sales rep works the institutions of
#: their team's regions).
TEAM_REGIONS: dict[str, tuple[str, ...]] = {
    "Île-de-France": (IDF,),
    "Nord-Est": (HDF, GES, BFC),
    "Grand Ouest": (BRE, NOR, PDL, CVL),
    "Sud-Est": (ARA, PACA, COR),
    "Sud-Ouest": (NAQ, OCC),
    "Outre-mer": (REU, MTQ, GLP, GUF),
}

#: Fixed-line numbers: the French zone digit by region, or the overseas country code and prefix.
PHONE_ZONES: dict[str, str] = {
    IDF: "+33 1", BRE: "+33 2", NOR: "+33 2", PDL: "+33 2", CVL: "+33 2",
    HDF: "+33 3", GES: "+33 3", BFC: "+33 3", ARA: "+33 4", PACA: "+33 4", COR: "+33 4",
    NAQ: "+33 5", OCC: "+33 5", REU: "+262 262", MTQ: "+596 596", GLP: "+590 590", GUF: "+594 594",
}

SAINTS = (
    "Saint-Joseph", "Sainte-Anne", "Saint-Louis", "Saint-Antoine", "Sainte-Marie", "Saint-Vincent",
    "Saint-Martin", "Saint-Jean", "Saint-Pierre", "Saint-Michel", "Sainte-Thérèse", "Saint-Roch", "Saint-Luc",
    "Saint-Côme", "Sainte-Clotilde", "Saint-Éloi", "Saint-François", "Sainte-Catherine", "Saint-Benoît",
    "Saint-Gatien", "Saint-Grégoire", "Saint-Hilaire", "Saint-Honoré", "Saint-Jacques", "Saint-Germain",
    "Sainte-Geneviève", "Sainte-Odile", "Saint-Laurent", "Saint-Paul", "Saint-Augustin", "Saint-Charles",
    "Saint-Georges", "Saint-Nicolas", "Saint-Christophe", "Sainte-Élisabeth", "Sainte-Marguerite",
    "Sainte-Cécile", "Saint-Thomas", "Saint-Victor", "Saint-Rémi", "Saint-Yves", "Sainte-Agnès",
    "Saint-Étienne", "Sainte-Félicité", "Saint-Barnabé", "Saint-Côme-et-Saint-Damien",
)
NOTABLES = (
    "Pasteur", "Victor Hugo", "Jean Jaurès", "Marie Curie", "Claude Bernard", "Ambroise Paré", "Paul Bert",
    "Georges Pompidou", "Émile Roux", "Édouard Herriot", "Jules Ferry", "Bichat", "Laennec", "Necker",
    "Lariboisière", "Tenon", "Trousseau", "Cochin", "Broca", "Beaujon", "Avicenne", "Charles Nicolle",
    "Léon Bérard", "Gustave Roussy", "Henri Mondor", "Raymond Poincaré", "Albert Schweitzer",
    "Simone Veil", "Louis Mourier", "Robert Debré", "Antoine Béclère", "Jean Verdier", "René Dubos",
    "Pierre Wertheimer", "Félix Guyon", "Jacques Monod", "André Mignot", "Lucien Hussel",
)
PLACES = (
    "du Parc", "des Cèdres", "du Lac", "de la Gare", "du Centre", "des Tilleuls", "du Château", "de l'Europe",
    "des Lilas", "du Val", "des Peupliers", "de la Source", "du Pont", "des Alpes", "de l'Océan",
    "des Quatre Saisons", "du Mail", "des Franciscaines", "de la Miséricorde", "des Ursulines", "du Bois",
    "de la Plaine", "des Vignes", "du Littoral", "de la Colline", "des Remparts",
)
QUARTERS = ("Nord", "Sud", "Est", "Ouest", "Centre", "Rive Gauche", "Rive Droite", "Les Halles", "Gare")

FIRST_NAMES = (
    "Marie", "Jean", "Pierre", "Sophie", "Nathalie", "Isabelle", "Philippe", "Nicolas", "Christophe",
    "Stéphane", "Sandrine", "Céline", "Julien", "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Lucas",
    "Hugo", "Louis", "Thomas", "Antoine", "Maxime", "Alexandre", "Élodie", "Hélène", "François", "Jérôme",
    "Zoé", "Anaïs", "Noël", "Loïc", "Maël", "Gaëlle", "Benoît", "Frédéric", "Valérie", "Véronique",
    "Aurélie", "Émilie", "Mathieu", "Guillaume", "Sébastien", "Cécile", "Laurence", "Martine", "Françoise",
    "Catherine", "Anne", "Caroline", "Delphine", "Virginie", "Olivier", "Laurent", "Éric", "Thierry",
    "Patrick", "Didier", "Pascal", "Luc", "Yves", "Agnès", "Béatrice", "Clémence", "Margaux", "Océane",
    "Théo", "Raphaël", "Gabriel", "Arthur", "Jules", "Adèle", "Louise", "Alice", "Juliette", "Lina",
    "Yasmine", "Karim", "Mehdi", "Nadia", "Samir", "Fatima", "Hervé", "Gérard", "Joël", "Ludovic",
)
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez",
    "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas",
    "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin",
    "Masson", "Sanchez", "Gérard", "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gautier",
    "Roger", "Roche", "Roy", "Noël", "Meyer", "Lucas", "Meunier", "Jean", "Perez", "Marchand", "Dufour",
    "Blanchard", "Marie", "Barbier", "Brun", "Dumas", "Brunet", "Schmitt", "Leroux", "Colin", "Fernandez",
    "Pierre", "Renard", "Arnaud", "Rolland", "Caron", "Aubert", "Giraud", "Leclerc", "Vidal", "Bourgeois",
    "Renaud", "Lemoine", "Picard", "Gaillard", "Philippe", "Leclercq", "Lacroix", "Fabre", "Dupuis",
    "Olivier", "Rodriguez", "Da Silva", "Hubert", "Louis", "Charles", "Guillot", "Rivière", "Le Gall",
    "Guillaume", "Adam", "Rey", "Moulin", "Gonzalez", "Berger", "Lecomte", "Ménard", "Fleury", "Deschamps",
    "Carpentier", "Julien", "Benoît", "Paris", "Maillard", "Marchal", "Aubry", "Vasseur", "Le Roux",
    "Renault", "Jacquet", "Collet", "Prévost", "Poirier", "Charpentier", "Royer", "Huet", "Baron", "Dupuy",
    "Pons", "Paul", "Lainé", "Carré", "Breton", "Rémy", "Schneider", "Perrot", "Guyot", "Barre", "Marty",
    "Cousin", "Le Goff", "Kerjean", "Le Bihan", "Ben Ali", "Haddad", "Diallo", "Traoré", "Pereira",
)
CONTACT_TITLES = (
    "Directeur des achats", "Directrice des achats", "Ingénieur biomédical", "Cadre de bloc",
    "Pharmacien responsable", "Pharmacienne gérante", "Directeur général", "Chef de service",
    "Responsable qualité", "Biologiste responsable", "Directrice des soins", "Infirmier coordinateur",
    "Responsable logistique", "Médecin DIM", "Acheteur hospitalier", "Cadre de santé", "Chirurgien",
    "Anesthésiste", "Responsable administratif et financier", "Assistante de direction",
)
CONTACT_DEPARTMENTS = (
    "Bloc opératoire", "Pharmacie", "Achats", "Direction", "Biomédical", "Radiologie", "Cardiologie",
    "Laboratoire", "Qualité", "Logistique", "Réanimation", "Urgences", "Stérilisation", "Finances",
)
GROUPS: dict[str, tuple[str, ...]] = {
    "private_clinic": ("Ramsay Santé", "Elsan", "Vivalto Santé", "Almaviva Santé", "Hexagone Santé",
                       "Groupe Noalis", "Clinavenir", "Groupe Kantys"),
    "specialty_clinic": ("Ramsay Santé", "Elsan", "Clinéa", "Korian", "UGECAM", "Groupe SOS Santé"),
    "laboratory": ("Biogroup", "Cerballiance", "Inovie", "Eurofins Biomnis", "Synlab", "Unilabs", "Bioclinic"),
    "pharmacy": ("Giphar", "Pharmavie", "Leadersanté", "Aprium", "Pharmacie Référence", "Pharm&Vous"),
    "medical_center": ("Filieris", "Mutualité Française", "Ramsay Santé", "Doctegestio"),
    "hospital": ("GHT {region}", "GHT {city}"),
    "university_hospital": ("AP-HP", "Hospices Civils de Lyon", "AP-HM", "GHT {region}"),
    "other": ("Korian", "Orpea", "DomusVi", "Colisée", "LNA Santé"),
}
STREET_NAMES = (
    "rue Pasteur", "rue de la République", "rue Victor Hugo", "avenue Jean Jaurès", "boulevard Gambetta",
    "rue des Lilas", "avenue de la Libération", "rue du Général de Gaulle", "place de l'Hôtel de Ville",
    "rue Nationale", "boulevard du Maréchal Foch", "rue Émile Zola", "avenue des Tilleuls", "rue de Verdun",
    "chemin des Vignes", "allée des Acacias", "rue Saint-Jacques", "quai de la Fosse", "cours Mirabeau",
    "rue Aristide Briand", "avenue Georges Clemenceau", "rue de la Paix", "boulevard Pasteur", "rue Carnot",
)

TAGS = ("Grand compte", "Appel d'offres", "Centrale d'achat", "UniHA", "RESAH", "Priorité 2026",
        "Salon MedTech", "Partenaire", "Groupement", "À relancer", "Référent KOL", "Nouveau site")
TAG_WEIGHTS = (6, 10, 8, 4, 4, 7, 3, 5, 6, 9, 2, 3)
SPECIALTIES = (
    "cardiologie", "oncologie", "orthopédie", "ophtalmologie", "radiologie", "pédiatrie", "urologie",
    "anesthésie", "gynécologie", "neurologie", "gastro-entérologie", "dermatologie", "pneumologie",
    "néphrologie", "rhumatologie", "chirurgie digestive", "chirurgie vasculaire", "ORL", "endocrinologie",
    "gériatrie", "psychiatrie", "médecine nucléaire", "rééducation", "biologie médicale", "hématologie",
)
DEPARTMENTS = ("Urgences", "Réanimation", "Bloc opératoire", "Maternité", "Imagerie", "Consultations externes",
               "Hôpital de jour", "Soins de suite", "Stérilisation", "Pharmacie à usage intérieur")
EQUIPMENT = ("IRM", "Scanner", "Échographe", "Robot chirurgical", "Endoscope", "Table d'opération",
             "Défibrillateur", "Respirateur", "Automate de biologie", "Mammographe", "Arceau de bloc")
CERTIFICATIONS = ("HAS V2020", "ISO 9001", "ISO 15189", "COFRAC", "ISO 14001", "HDS")

#: The CSV labels of the types, as French files write them (the sample file's labels).
TYPE_LABELS_FR: dict[str, str] = {
    "university_hospital": "CHU", "hospital": "Centre hospitalier", "private_clinic": "Clinique privée",
    "medical_center": "Centre médical", "specialty_clinic": "Clinique spécialisée",
    "laboratory": "Laboratoire", "pharmacy": "Pharmacie", "other": "Autre",
}
