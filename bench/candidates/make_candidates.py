"""Candidate facts for `bench/check_probes.py --select`: the source of the facts appended to
assets/probes.jsonl after its first 153 rows.

    python bench/candidates/make_candidates.py /tmp/candidates.jsonl
    python bench/check_probes.py /tmp/candidates.jsonl --select /tmp/selected.jsonl --per-topic 60

Each relation has rewordings with {x} (the subject as written mid-sentence, e.g. "the Netherlands")
and {X} (the same at the start of a sentence); each item is (written form, subject, answer or
[equally true answers]). Only true, unambiguous facts belong here: the model decides which are kept,
never what the answer is. Of the kept facts a subset went into the asset file (about 30 per relation,
the largest margins first, with at most a few facts per answer so that answers stay mixed).
"founded by", "instrument", "animal class" and "inventor" stayed below 20 known facts on the default
model (SmolLM2-135M-Instruct) and were not added.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RELATIONS: dict[str, dict] = {}


def relation(name: str, topic: str, wordings: list[str], items: list[tuple]) -> None:
    RELATIONS[name] = {"topic": topic, "wordings": wordings, "items": items}


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


relation("capital of", "capitals", [
    "The capital of {x} is", "The capital city of {x} is", "{X} has its capital in the city of",
    "The government of {x} is based in the capital city of",
], [
    ("Italy", "Italy", " Rome"), ("Spain", "Spain", " Madrid"), ("Russia", "Russia", " Moscow"),
    ("China", "China", " Beijing"), ("Egypt", "Egypt", " Cairo"), ("Austria", "Austria", " Vienna"),
    ("Hungary", "Hungary", " Budapest"), ("Poland", "Poland", " Warsaw"), ("Portugal", "Portugal", " Lisbon"),
    ("Ireland", "Ireland", " Dublin"), ("Norway", "Norway", " Oslo"), ("Sweden", "Sweden", " Stockholm"),
    ("Denmark", "Denmark", " Copenhagen"), ("Finland", "Finland", " Helsinki"), ("Thailand", "Thailand", " Bangkok"),
    ("Vietnam", "Vietnam", " Hanoi"), ("the Philippines", "Philippines", " Manila"),
    ("Argentina", "Argentina", " Buenos Aires"), ("Peru", "Peru", " Lima"), ("Colombia", "Colombia", " Bogotá"),
    ("Cuba", "Cuba", " Havana"), ("Canada", "Canada", " Ottawa"),
    ("Australia", "Australia", " Canberra"), ("New Zealand", "New Zealand", " Wellington"),
    ("Turkey", "Turkey", " Ankara"), ("Iraq", "Iraq", " Baghdad"), ("Syria", "Syria", " Damascus"),
    ("Lebanon", "Lebanon", " Beirut"), ("Saudi Arabia", "Saudi Arabia", " Riyadh"),
    ("Afghanistan", "Afghanistan", " Kabul"), ("Pakistan", "Pakistan", " Islamabad"),
    ("India", "India", " New Delhi"), ("Nepal", "Nepal", " Kathmandu"), ("Romania", "Romania", " Bucharest"),
    ("Bulgaria", "Bulgaria", " Sofia"), ("Serbia", "Serbia", " Belgrade"), ("Croatia", "Croatia", " Zagreb"),
    ("Morocco", "Morocco", " Rabat"), ("Ethiopia", "Ethiopia", " Addis Ababa"), ("Nigeria", "Nigeria", " Abuja"),
    ("Ghana", "Ghana", " Accra"), ("Senegal", "Senegal", " Dakar"), ("Uruguay", "Uruguay", " Montevideo"),
    ("Venezuela", "Venezuela", " Caracas"), ("Iceland", "Iceland", " Reykjavik"),
    ("Mongolia", "Mongolia", " Ulaanbaatar"), ("Qatar", "Qatar", " Doha"),
    ("Jordan", "Jordan", " Amman"), ("Libya", "Libya", " Tripoli"), ("Zimbabwe", "Zimbabwe", " Harare"),
    ("Uganda", "Uganda", " Kampala"), ("Brazil", "Brazil", " Brasília"),
    ("the United States", "United States", " Washington"), ("Ukraine", "Ukraine", [" Kyiv", " Kiev"]),
    ("Slovakia", "Slovakia", " Bratislava"), ("Chile", "Chile", " Santiago"), ("Ecuador", "Ecuador", " Quito"),
])

relation("located in city", "landmarks", [
    "{X} is located in the city of", "{X} can be found in the city of",
    "Tourists who want to see {x} travel to the city of", "{X} is a famous landmark in the city of",
], [
    ("the Louvre", "Louvre", " Paris"), ("the Arc de Triomphe", "Arc de Triomphe", " Paris"),
    ("Notre-Dame Cathedral", "Notre-Dame Cathedral", " Paris"), ("Big Ben", "Big Ben", " London"),
    ("Buckingham Palace", "Buckingham Palace", " London"), ("Westminster Abbey", "Westminster Abbey", " London"),
    ("Tower Bridge", "Tower Bridge", " London"), ("the Empire State Building", "Empire State Building", " New York"),
    ("Central Park", "Central Park", " New York"), ("Times Square", "Times Square", " New York"),
    ("the Brooklyn Bridge", "Brooklyn Bridge", " New York"),
    ("the Brandenburg Gate", "Brandenburg Gate", " Berlin"), ("the Sagrada Família", "Sagrada Família", " Barcelona"),
    ("the Prado Museum", "Prado Museum", " Madrid"), ("the Trevi Fountain", "Trevi Fountain", " Rome"),
    ("the Spanish Steps", "Spanish Steps", " Rome"), ("the Roman Forum", "Roman Forum", " Rome"),
    ("the Leaning Tower of Pisa", "Leaning Tower of Pisa", " Pisa"), ("Red Square", "Red Square", " Moscow"),
    ("Saint Basil's Cathedral", "Saint Basil's Cathedral", " Moscow"), ("the Bolshoi Theatre", "Bolshoi Theatre", " Moscow"),
    ("the Forbidden City", "Forbidden City", " Beijing"), ("the Burj Khalifa", "Burj Khalifa", " Dubai"),
    ("the Taj Mahal", "Taj Mahal", " Agra"), ("the Christ the Redeemer statue", "Christ the Redeemer", " Rio de Janeiro"),
    ("the CN Tower", "CN Tower", " Toronto"), ("the Space Needle", "Space Needle", " Seattle"),
    ("the Gateway Arch", "Gateway Arch", " St. Louis"), ("the Hollywood Sign", "Hollywood Sign", " Los Angeles"),
    ("the Charles Bridge", "Charles Bridge", " Prague"), ("the Petronas Towers", "Petronas Towers", " Kuala Lumpur"),
    ("the Blue Mosque", "Blue Mosque", " Istanbul"), ("Topkapi Palace", "Topkapi Palace", " Istanbul"),
    ("the Alhambra", "Alhambra", " Granada"), ("the Atomium", "Atomium", " Brussels"),
    ("the Anne Frank House", "Anne Frank House", " Amsterdam"), ("the Van Gogh Museum", "Van Gogh Museum", " Amsterdam"),
    ("the Hermitage Museum", "Hermitage Museum", [" Saint Petersburg", " St. Petersburg"]),
    ("the Rialto Bridge", "Rialto Bridge", " Venice"), ("St Mark's Basilica", "St Mark's Basilica", " Venice"),
    ("the Doge's Palace", "Doge's Palace", " Venice"), ("the Ponte Vecchio", "Ponte Vecchio", " Florence"),
    ("Edinburgh Castle", "Edinburgh Castle", " Edinburgh"), ("Table Mountain", "Table Mountain", " Cape Town"),
    ("the White House", "White House", " Washington"), ("the Lincoln Memorial", "Lincoln Memorial", " Washington"),
    ("Schönbrunn Palace", "Schönbrunn Palace", " Vienna"), ("the Gateway of India", "Gateway of India", " Mumbai"),
    ("the Willis Tower", "Willis Tower", " Chicago"), ("the Liberty Bell", "Liberty Bell", " Philadelphia"),
    ("La Scala", "La Scala", " Milan"), ("the Metropolitan Museum of Art", "Metropolitan Museum of Art", " New York"),
    ("the Little Mermaid statue", "Little Mermaid statue", " Copenhagen"), ("the Golden Temple", "Golden Temple", " Amritsar"),
    
])

relation("official language", "languages", [
    "The official language of {x} is", "In {x}, most people speak", "The main language spoken in {x} is",
    "People who live in {x} usually speak",
], [
    ("France", "France", " French"), ("Germany", "Germany", " German"), ("Italy", "Italy", " Italian"),
    ("Spain", "Spain", " Spanish"), ("Portugal", "Portugal", " Portuguese"), ("Brazil", "Brazil", " Portuguese"),
    ("Russia", "Russia", " Russian"), ("Japan", "Japan", " Japanese"), ("South Korea", "South Korea", " Korean"),
    ("Poland", "Poland", " Polish"), ("Greece", "Greece", " Greek"), ("Turkey", "Turkey", " Turkish"),
    ("the Netherlands", "Netherlands", " Dutch"), ("Sweden", "Sweden", " Swedish"), ("Norway", "Norway", " Norwegian"),
    ("Denmark", "Denmark", " Danish"), ("Iceland", "Iceland", " Icelandic"), ("Romania", "Romania", " Romanian"),
    ("Bulgaria", "Bulgaria", " Bulgarian"), ("Ukraine", "Ukraine", " Ukrainian"), ("Thailand", "Thailand", " Thai"),
    ("Vietnam", "Vietnam", " Vietnamese"), ("Indonesia", "Indonesia", " Indonesian"),
    ("Iran", "Iran", [" Persian", " Farsi"]), ("Argentina", "Argentina", " Spanish"),
    ("Colombia", "Colombia", " Spanish"), ("Saudi Arabia", "Saudi Arabia", " Arabic"),
    ("Slovakia", "Slovakia", " Slovak"), ("Serbia", "Serbia", " Serbian"), ("Mongolia", "Mongolia", " Mongolian"),
    ("Austria", "Austria", " German"), ("Angola", "Angola", " Portuguese"), ("Mozambique", "Mozambique", " Portuguese"),
    ("Bangladesh", "Bangladesh", [" Bengali", " Bangla"]), ("Cambodia", "Cambodia", " Khmer"),
    ("Nepal", "Nepal", " Nepali"), ("Malaysia", "Malaysia", [" Malay", " Malaysian"]), ("Slovenia", "Slovenia", " Slovene"),
    ("Jordan", "Jordan", " Arabic"), ("Syria", "Syria", " Arabic"),
])

relation("currency", "currencies", [
    "The currency of {x} is the", "In {x}, people pay with the", "The official currency of {x} is the",
    "The money used in {x} is called the",
], [
    ("the United Kingdom", "United Kingdom", [" pound", " pound sterling", " British pound"]),
    ("the United States", "United States", [" dollar", " US dollar", " United States dollar"]),
    ("Russia", "Russia", [" ruble", " rouble", " Russian ruble"]), ("Brazil", "Brazil", [" real", " Brazilian real"]),
    ("Canada", "Canada", [" dollar", " Canadian dollar"]), ("France", "France", [" euro", " Euro"]),
    ("Italy", "Italy", [" euro", " Euro"]), ("Spain", "Spain", [" euro", " Euro"]),
    ("Poland", "Poland", [" zloty", " złoty", " Polish zloty"]), ("Sweden", "Sweden", [" krona", " Swedish krona"]),
    ("Norway", "Norway", [" krone", " Norwegian krone"]), ("Denmark", "Denmark", [" krone", " Danish krone"]),
    ("Thailand", "Thailand", [" baht", " Thai baht"]), ("Indonesia", "Indonesia", [" rupiah", " Indonesian rupiah"]),
    ("Israel", "Israel", [" shekel", " new shekel", " Israeli new shekel"]),
    ("Saudi Arabia", "Saudi Arabia", [" riyal", " Saudi riyal"]), ("Egypt", "Egypt", [" pound", " Egyptian pound"]),
    ("Nigeria", "Nigeria", [" naira", " Nigerian naira"]), ("Pakistan", "Pakistan", [" rupee", " Pakistani rupee"]),
    ("Malaysia", "Malaysia", [" ringgit", " Malaysian ringgit"]), ("Hungary", "Hungary", [" forint", " Hungarian forint"]),
    ("the Czech Republic", "Czech Republic", [" koruna", " Czech koruna", " crown", " Czech crown"]),
    ("Ukraine", "Ukraine", [" hryvnia", " Ukrainian hryvnia"]), ("Iran", "Iran", [" rial", " Iranian rial"]),
    ("Colombia", "Colombia", [" peso", " Colombian peso"]), ("Peru", "Peru", [" sol", " Peruvian sol"]),
    
    ("Iceland", "Iceland", [" króna", " krona", " Icelandic króna"]), ("Romania", "Romania", [" leu", " Romanian leu"]),
    ("Morocco", "Morocco", [" dirham", " Moroccan dirham"]),
    ("the United Arab Emirates", "United Arab Emirates", [" dirham", " UAE dirham"]),
    ("Ghana", "Ghana", [" cedi", " Ghanaian cedi"]), ("Ethiopia", "Ethiopia", [" birr", " Ethiopian birr"]),
    ("Cuba", "Cuba", [" peso", " Cuban peso"]), ("Croatia", "Croatia", [" euro", " Euro"]),
    ("Greece", "Greece", [" euro", " Euro"]),
])

relation("continent", "continents", [
    "{X} is located on the continent of", "{X} is a country in", "The continent where {x} lies is",
    "{X} is a nation on the continent of",
], [
    ("China", "China", " Asia"), ("Japan", "Japan", " Asia"), ("India", "India", " Asia"),
    ("Thailand", "Thailand", " Asia"), ("Vietnam", "Vietnam", " Asia"), ("Mongolia", "Mongolia", " Asia"),
    ("Nepal", "Nepal", " Asia"), ("South Korea", "South Korea", " Asia"), ("Pakistan", "Pakistan", " Asia"),
    ("Cambodia", "Cambodia", " Asia"), ("Bangladesh", "Bangladesh", " Asia"), ("Laos", "Laos", " Asia"),
    ("Indonesia", "Indonesia", " Asia"), ("the Philippines", "Philippines", " Asia"), ("Malaysia", "Malaysia", " Asia"),
    ("Sri Lanka", "Sri Lanka", " Asia"), ("Myanmar", "Myanmar", " Asia"), ("Afghanistan", "Afghanistan", " Asia"),
    ("Saudi Arabia", "Saudi Arabia", " Asia"), ("Iraq", "Iraq", " Asia"), ("Iran", "Iran", " Asia"),
    ("North Korea", "North Korea", " Asia"), ("Bhutan", "Bhutan", " Asia"), ("Uzbekistan", "Uzbekistan", " Asia"),
    ("Mali", "Mali", " Africa"), ("Niger", "Niger", " Africa"), ("Somalia", "Somalia", " Africa"),
    ("Zimbabwe", "Zimbabwe", " Africa"), ("Botswana", "Botswana", " Africa"), ("Namibia", "Namibia", " Africa"),
    ("Madagascar", "Madagascar", " Africa"), ("Algeria", "Algeria", " Africa"), ("Rwanda", "Rwanda", " Africa"),
    ("Mozambique", "Mozambique", " Africa"), ("Sudan", "Sudan", " Africa"), ("Chad", "Chad", " Africa"),
    ("France", "France", " Europe"), ("Italy", "Italy", " Europe"), ("Germany", "Germany", " Europe"),
    ("Spain", "Spain", " Europe"), ("Austria", "Austria", " Europe"), ("Hungary", "Hungary", " Europe"),
    ("Kenya", "Kenya", " Africa"), ("Morocco", "Morocco", " Africa"), ("Senegal", "Senegal", " Africa"),
    ("Tanzania", "Tanzania", " Africa"), ("Angola", "Angola", " Africa"), ("Cameroon", "Cameroon", " Africa"),
    ("Brazil", "Brazil", " South America"), ("Argentina", "Argentina", " South America"),
    ("Peru", "Peru", " South America"), ("Chile", "Chile", " South America"),
    ("Colombia", "Colombia", " South America"), ("Venezuela", "Venezuela", " South America"),
    ("Bolivia", "Bolivia", " South America"), ("Uruguay", "Uruguay", " South America"),
    ("Paraguay", "Paraguay", " South America"), ("Ecuador", "Ecuador", " South America"),
    ("Canada", "Canada", " North America"), ("Mexico", "Mexico", " North America"),
    ("the United States", "United States", " North America"),
])

relation("city in country", "cities", [
    "{X} is a large city in the country of", "{X} is a city in", "The city of {x} is located in",
    "{X} lies in the country of",
], [
    ("Milan", "Milan", " Italy"), ("Naples", "Naples", " Italy"), ("Venice", "Venice", " Italy"),
    ("Florence", "Florence", " Italy"), ("Turin", "Turin", " Italy"), ("Barcelona", "Barcelona", " Spain"),
    ("Seville", "Seville", " Spain"), ("Bilbao", "Bilbao", " Spain"), ("Munich", "Munich", " Germany"),
    ("Hamburg", "Hamburg", " Germany"), ("Cologne", "Cologne", " Germany"), ("Lyon", "Lyon", " France"),
    ("Marseille", "Marseille", " France"), ("Kyoto", "Kyoto", " Japan"), ("Yokohama", "Yokohama", " Japan"),
    ("Mumbai", "Mumbai", " India"), ("Kolkata", "Kolkata", " India"), ("Bangalore", "Bangalore", " India"),
    ("Chennai", "Chennai", " India"), ("Rio de Janeiro", "Rio de Janeiro", " Brazil"),
    ("São Paulo", "São Paulo", " Brazil"), ("Toronto", "Toronto", " Canada"), ("Vancouver", "Vancouver", " Canada"),
    ("Montreal", "Montreal", " Canada"), ("Sydney", "Sydney", " Australia"), ("Melbourne", "Melbourne", " Australia"),
    ("Brisbane", "Brisbane", " Australia"), ("Istanbul", "Istanbul", " Turkey"), ("Krakow", "Krakow", " Poland"),
    ("Casablanca", "Casablanca", " Morocco"), ("Marrakesh", "Marrakesh", " Morocco"),
    ("Johannesburg", "Johannesburg", " South Africa"), ("Cape Town", "Cape Town", " South Africa"),
    ("Guangzhou", "Guangzhou", " China"), ("Chengdu", "Chengdu", " China"), ("Wuhan", "Wuhan", " China"),
    ("Busan", "Busan", " South Korea"), ("Ho Chi Minh City", "Ho Chi Minh City", " Vietnam"),
    ("Antwerp", "Antwerp", " Belgium"),
    ("Geneva", "Geneva", " Switzerland"), ("Zurich", "Zurich", " Switzerland"), ("Salzburg", "Salzburg", " Austria"),
    ("Porto", "Porto", " Portugal"), ("Thessaloniki", "Thessaloniki", " Greece"),
    ("Medellín", "Medellín", " Colombia"),
    
    ("Acapulco", "Acapulco", " Mexico"), ("Cancún", "Cancún", " Mexico"), ("Mecca", "Mecca", " Saudi Arabia"),
    ("Karachi", "Karachi", " Pakistan"), ("Lahore", "Lahore", " Pakistan"), ("Kathmandu", "Kathmandu", " Nepal"),
])

relation("chemical symbol", "elements", [
    "The chemical symbol for {x} is", "The symbol of the element {x} is",
    "In chemistry, {x} is written with the symbol", "On the periodic table, {x} has the symbol",
], [
    ("oxygen", "oxygen", " O"), ("carbon", "carbon", " C"), ("nitrogen", "nitrogen", " N"),
    ("helium", "helium", " He"), ("silver", "silver", " Ag"), ("lead", "lead", " Pb"),
    ("mercury", "mercury", " Hg"), ("zinc", "zinc", " Zn"), ("neon", "neon", " Ne"),
    ("chlorine", "chlorine", " Cl"), ("sulfur", "sulfur", " S"), ("magnesium", "magnesium", " Mg"),
    ("aluminium", "aluminium", " Al"), ("silicon", "silicon", " Si"), ("uranium", "uranium", " U"),
    ("platinum", "platinum", " Pt"), ("lithium", "lithium", " Li"), ("phosphorus", "phosphorus", " P"),
    ("fluorine", "fluorine", " F"), ("nickel", "nickel", " Ni"), ("iodine", "iodine", " I"),
    ("argon", "argon", " Ar"), ("titanium", "titanium", " Ti"), ("tungsten", "tungsten", " W"),
    ("cobalt", "cobalt", " Co"), ("boron", "boron", " B"), ("manganese", "manganese", " Mn"),
    ("chromium", "chromium", " Cr"), ("plutonium", "plutonium", " Pu"), ("radium", "radium", " Ra"),
])

relation("author", "authors", [
    "{X} was written by", "{X} is a famous book by", "The author of {x} is", "The writer who created {x} is",
    "The famous book {X} was written by", "{X} is a well-known work by",
], [
    ("Pride and Prejudice", "Pride and Prejudice", " Jane Austen"), ("Nineteen Eighty-Four", "Nineteen Eighty-Four", " George Orwell"),
    ("Animal Farm", "Animal Farm", " George Orwell"), ("War and Peace", "War and Peace", [" Leo Tolstoy", " Tolstoy"]),
    ("Anna Karenina", "Anna Karenina", [" Leo Tolstoy", " Tolstoy"]),
    ("Crime and Punishment", "Crime and Punishment", [" Fyodor Dostoevsky", " Dostoevsky"]),
    ("Don Quixote", "Don Quixote", " Miguel de Cervantes"), ("Moby-Dick", "Moby-Dick", " Herman Melville"),
    ("Les Misérables", "Les Misérables", " Victor Hugo"), ("The Hobbit", "The Hobbit", " J. R. R. Tolkien"),
    ("The Lord of the Rings", "The Lord of the Rings", " J. R. R. Tolkien"),
    ("The Old Man and the Sea", "The Old Man and the Sea", " Ernest Hemingway"),
    ("A Christmas Carol", "A Christmas Carol", " Charles Dickens"), ("Oliver Twist", "Oliver Twist", " Charles Dickens"),
    ("Frankenstein", "Frankenstein", " Mary Shelley"), ("Dracula", "Dracula", " Bram Stoker"),
    ("The Divine Comedy", "The Divine Comedy", [" Dante Alighieri", " Dante"]),
    ("The Adventures of Tom Sawyer", "The Adventures of Tom Sawyer", " Mark Twain"),
    ("To Kill a Mockingbird", "To Kill a Mockingbird", " Harper Lee"),
    ("The Catcher in the Rye", "The Catcher in the Rye", " J. D. Salinger"),
    ("A Brief History of Time", "A Brief History of Time", " Stephen Hawking"),
    ("The Little Prince", "The Little Prince", " Antoine de Saint-Exupéry"),
    ("Alice's Adventures in Wonderland", "Alice's Adventures in Wonderland", " Lewis Carroll"),
    ("The Metamorphosis", "The Metamorphosis", " Franz Kafka"),
    ("One Hundred Years of Solitude", "One Hundred Years of Solitude", " Gabriel García Márquez"),
    ("Brave New World", "Brave New World", " Aldous Huxley"), ("Jane Eyre", "Jane Eyre", " Charlotte Brontë"),
    ("Wuthering Heights", "Wuthering Heights", " Emily Brontë"), ("The Prince", "The Prince", " Niccolò Machiavelli"),
    ("The Art of War", "The Art of War", " Sun Tzu"),
    ("Around the World in Eighty Days", "Around the World in Eighty Days", " Jules Verne"),
    ("Treasure Island", "Treasure Island", " Robert Louis Stevenson"), ("The Jungle Book", "The Jungle Book", " Rudyard Kipling"),
    ("Gulliver's Travels", "Gulliver's Travels", " Jonathan Swift"), ("Robinson Crusoe", "Robinson Crusoe", " Daniel Defoe"),
    ("The Grapes of Wrath", "The Grapes of Wrath", " John Steinbeck"), ("Of Mice and Men", "Of Mice and Men", " John Steinbeck"),
    ("Lolita", "Lolita", " Vladimir Nabokov"), ("Ulysses", "Ulysses", " James Joyce"),
    ("The Cat in the Hat", "The Cat in the Hat", " Dr. Seuss"),
    ("Charlie and the Chocolate Factory", "Charlie and the Chocolate Factory", " Roald Dahl"),
    ("The Chronicles of Narnia", "The Chronicles of Narnia", " C. S. Lewis"), ("The Da Vinci Code", "The Da Vinci Code", " Dan Brown"),
    ("The Hunger Games", "The Hunger Games", " Suzanne Collins"), ("A Game of Thrones", "A Game of Thrones", " George R. R. Martin"),
    ("The Shining", "The Shining", " Stephen King"), ("Murder on the Orient Express", "Murder on the Orient Express", " Agatha Christie"),
    ("Fahrenheit 451", "Fahrenheit 451", " Ray Bradbury"), ("The Canterbury Tales", "The Canterbury Tales", " Geoffrey Chaucer"),
    ("Paradise Lost", "Paradise Lost", " John Milton"), ("Peter Pan", "Peter Pan", " J. M. Barrie"),
    ("Little Women", "Little Women", " Louisa May Alcott"), ("The Picture of Dorian Gray", "The Picture of Dorian Gray", " Oscar Wilde"),
    ("The War of the Worlds", "The War of the Worlds", " H. G. Wells"), ("The Time Machine", "The Time Machine", " H. G. Wells"),
    ("The Count of Monte Cristo", "The Count of Monte Cristo", " Alexandre Dumas"),
    ("The Three Musketeers", "The Three Musketeers", " Alexandre Dumas"), ("Madame Bovary", "Madame Bovary", " Gustave Flaubert"),
    ("Candide", "Candide", " Voltaire"), 
    ("Das Kapital", "Das Kapital", " Karl Marx"), ("Great Expectations", "Great Expectations", " Charles Dickens"),
    ("The Lion, the Witch and the Wardrobe", "The Lion, the Witch and the Wardrobe", " C. S. Lewis"),
    ("The Silmarillion", "The Silmarillion", " J. R. R. Tolkien"), ("Sense and Sensibility", "Sense and Sensibility", " Jane Austen"),
    ("Leaves of Grass", "Leaves of Grass", " Walt Whitman"), ("The Scarlet Letter", "The Scarlet Letter", " Nathaniel Hawthorne"),
    ("The Call of the Wild", "The Call of the Wild", " Jack London"), ("Heart of Darkness", "Heart of Darkness", " Joseph Conrad"),
    ("Mrs Dalloway", "Mrs Dalloway", " Virginia Woolf"), ("A Farewell to Arms", "A Farewell to Arms", " Ernest Hemingway"),
    ("For Whom the Bell Tolls", "For Whom the Bell Tolls", " Ernest Hemingway"),
    ("The Handmaid's Tale", "The Handmaid's Tale", " Margaret Atwood"), ("Things Fall Apart", "Things Fall Apart", " Chinua Achebe"),
    ("The Kite Runner", "The Kite Runner", " Khaled Hosseini"), ("Life of Pi", "Life of Pi", " Yann Martel"),
    ("The Hitchhiker's Guide to the Galaxy", "The Hitchhiker's Guide to the Galaxy", " Douglas Adams"),
    ("Dune", "Dune", " Frank Herbert"), ("I, Robot", "I, Robot", " Isaac Asimov"),
    ("Slaughterhouse-Five", "Slaughterhouse-Five", " Kurt Vonnegut"), ("Catch-22", "Catch-22", " Joseph Heller"),
    ("On the Road", "On the Road", " Jack Kerouac"), ("Lord of the Flies", "Lord of the Flies", " William Golding"),
    ("The Godfather", "The Godfather", " Mario Puzo"), 
    ("Gone with the Wind", "Gone with the Wind", " Margaret Mitchell"),
    ("The Hound of the Baskervilles", "The Hound of the Baskervilles", [" Arthur Conan Doyle", " Sir Arthur Conan Doyle"]),
    ("The Tale of Peter Rabbit", "The Tale of Peter Rabbit", " Beatrix Potter"), ("Matilda", "Matilda", " Roald Dahl"),
    ("Charlotte's Web", "Charlotte's Web", " E. B. White"), ("Green Eggs and Ham", "Green Eggs and Ham", " Dr. Seuss"),
    ("A Tale of Two Cities", "A Tale of Two Cities", " Charles Dickens"), ("David Copperfield", "David Copperfield", " Charles Dickens"),
    ("Twenty Thousand Leagues Under the Seas", "Twenty Thousand Leagues Under the Seas", " Jules Verne"),
    ("The Importance of Being Earnest", "The Importance of Being Earnest", " Oscar Wilde"),
    ("A Streetcar Named Desire", "A Streetcar Named Desire", " Tennessee Williams"),
    ("Death of a Salesman", "Death of a Salesman", " Arthur Miller"), ("Waiting for Godot", "Waiting for Godot", " Samuel Beckett"),
    ("The Hunchback of Notre-Dame", "The Hunchback of Notre-Dame", " Victor Hugo"), ("The Name of the Rose", "The Name of the Rose", " Umberto Eco"),
    ("Siddhartha", "Siddhartha", " Hermann Hesse"), ("Doctor Zhivago", "Doctor Zhivago", " Boris Pasternak"),
    ("The Brothers Karamazov", "The Brothers Karamazov", [" Fyodor Dostoevsky", " Dostoevsky"]),
    ("The Wonderful Wizard of Oz", "The Wonderful Wizard of Oz", " L. Frank Baum"), ("Anne of Green Gables", "Anne of Green Gables", " L. M. Montgomery"),
    ("Heidi", "Heidi", " Johanna Spyri"), ("The Secret Garden", "The Secret Garden", " Frances Hodgson Burnett"),
    ("Black Beauty", "Black Beauty", " Anna Sewell"), ("The Interpretation of Dreams", "The Interpretation of Dreams", " Sigmund Freud"),
    ("The Selfish Gene", "The Selfish Gene", " Richard Dawkins"), ("Critique of Pure Reason", "Critique of Pure Reason", " Immanuel Kant"),
    ("Thus Spoke Zarathustra", "Thus Spoke Zarathustra", " Friedrich Nietzsche"), ("The Social Contract", "The Social Contract", " Jean-Jacques Rousseau"),
    ("Utopia", "Utopia", " Thomas More"), ("Silent Spring", "Silent Spring", " Rachel Carson"),
    ("The Diary of a Young Girl", "The Diary of a Young Girl", " Anne Frank"), ("Long Walk to Freedom", "Long Walk to Freedom", " Nelson Mandela"),
    ("Uncle Tom's Cabin", "Uncle Tom's Cabin", " Harriet Beecher Stowe"), ("The Raven", "The Raven", " Edgar Allan Poe"),
])

relation("sport", "sports", [
    "{X} is best known for the sport of", "The sport that made {x} famous is", "{X} became a star in the sport of",
    "{X} won fame as an athlete in the sport of", "{X} is a legend of the sport of", "The sport in which {x} became famous is",
], [
    ("Lionel Messi", "Lionel Messi", [" football", " soccer"]), ("Cristiano Ronaldo", "Cristiano Ronaldo", [" football", " soccer"]),
    ("Pelé", "Pelé", [" football", " soccer"]), ("Diego Maradona", "Diego Maradona", [" football", " soccer"]),
    ("Zinedine Zidane", "Zinedine Zidane", [" football", " soccer"]), ("David Beckham", "David Beckham", [" football", " soccer"]),
    ("Michael Jordan", "Michael Jordan", " basketball"), ("LeBron James", "LeBron James", " basketball"),
    ("Kobe Bryant", "Kobe Bryant", " basketball"), ("Shaquille O'Neal", "Shaquille O'Neal", " basketball"),
    ("Stephen Curry", "Stephen Curry", " basketball"), ("Kareem Abdul-Jabbar", "Kareem Abdul-Jabbar", " basketball"),
    ("Roger Federer", "Roger Federer", " tennis"), ("Serena Williams", "Serena Williams", " tennis"),
    ("Rafael Nadal", "Rafael Nadal", " tennis"), ("Novak Djokovic", "Novak Djokovic", " tennis"),
    ("Andy Murray", "Andy Murray", " tennis"), ("Maria Sharapova", "Maria Sharapova", " tennis"),
    ("Tiger Woods", "Tiger Woods", " golf"), ("Jack Nicklaus", "Jack Nicklaus", " golf"), ("Arnold Palmer", "Arnold Palmer", " golf"),
    ("Usain Bolt", "Usain Bolt", [" sprinting", " athletics", " track"]), ("Michael Phelps", "Michael Phelps", " swimming"),
    ("Wayne Gretzky", "Wayne Gretzky", [" ice hockey", " hockey"]), ("Babe Ruth", "Babe Ruth", " baseball"),
    ("Derek Jeter", "Derek Jeter", " baseball"), ("Muhammad Ali", "Muhammad Ali", " boxing"),
    ("Mike Tyson", "Mike Tyson", " boxing"), ("Floyd Mayweather", "Floyd Mayweather", " boxing"),
    ("Sachin Tendulkar", "Sachin Tendulkar", " cricket"), ("Don Bradman", "Don Bradman", " cricket"),
    ("Lewis Hamilton", "Lewis Hamilton", [" Formula One", " Formula 1", " motor racing"]),
    ("Michael Schumacher", "Michael Schumacher", [" Formula One", " Formula 1", " motor racing"]),
    ("Simone Biles", "Simone Biles", " gymnastics"), ("Nadia Comăneci", "Nadia Comăneci", " gymnastics"),
    ("Tony Hawk", "Tony Hawk", " skateboarding"), ("Magnus Carlsen", "Magnus Carlsen", " chess"),
    ("Bobby Fischer", "Bobby Fischer", " chess"),
    ("Eddy Merckx", "Eddy Merckx", " cycling"), ("Tom Brady", "Tom Brady", " American football"),
    ("Ronaldinho", "Ronaldinho", [" football", " soccer"]), ("Neymar", "Neymar", [" football", " soccer"]),
    ("Kylian Mbappé", "Kylian Mbappé", [" football", " soccer"]), ("Magic Johnson", "Magic Johnson", " basketball"),
    ("Larry Bird", "Larry Bird", " basketball"), ("Pete Sampras", "Pete Sampras", " tennis"), ("Andre Agassi", "Andre Agassi", " tennis"),
    ("Venus Williams", "Venus Williams", " tennis"), ("Björn Borg", "Björn Borg", " tennis"), ("Phil Mickelson", "Phil Mickelson", " golf"),
    ("Rory McIlroy", "Rory McIlroy", " golf"), ("Sugar Ray Leonard", "Sugar Ray Leonard", " boxing"), ("Manny Pacquiao", "Manny Pacquiao", " boxing"),
    ("Joe Louis", "Joe Louis", " boxing"), ("Virat Kohli", "Virat Kohli", " cricket"), ("Shane Warne", "Shane Warne", " cricket"),
    ("Brian Lara", "Brian Lara", " cricket"), ("Ian Thorpe", "Ian Thorpe", " swimming"), ("Mark Spitz", "Mark Spitz", " swimming"),
    ("Mickey Mantle", "Mickey Mantle", " baseball"), ("Hank Aaron", "Hank Aaron", " baseball"), ("Sidney Crosby", "Sidney Crosby", [" ice hockey", " hockey"]),
    ("Mario Lemieux", "Mario Lemieux", [" ice hockey", " hockey"]), ("Ayrton Senna", "Ayrton Senna", [" Formula One", " Formula 1", " motor racing"]),
    ("Jonah Lomu", "Jonah Lomu", " rugby"), ("Carl Lewis", "Carl Lewis", [" athletics", " track"]),
    ("Kevin Durant", "Kevin Durant", " basketball"), ("Tim Duncan", "Tim Duncan", " basketball"), ("Yao Ming", "Yao Ming", " basketball"),
    ("Dirk Nowitzki", "Dirk Nowitzki", " basketball"), ("Steffi Graf", "Steffi Graf", " tennis"),
    ("Martina Navratilova", "Martina Navratilova", " tennis"), ("John McEnroe", "John McEnroe", " tennis"),
    ("Billie Jean King", "Billie Jean King", " tennis"), ("Naomi Osaka", "Naomi Osaka", " tennis"),
    ("Gary Player", "Gary Player", " golf"), ("Seve Ballesteros", "Seve Ballesteros", " golf"), ("Annika Sörenstam", "Annika Sörenstam", " golf"),
    ("Evander Holyfield", "Evander Holyfield", " boxing"), ("George Foreman", "George Foreman", " boxing"),
    ("Lennox Lewis", "Lennox Lewis", " boxing"), ("Rocky Marciano", "Rocky Marciano", " boxing"), ("Oscar De La Hoya", "Oscar De La Hoya", " boxing"),
    ("MS Dhoni", "MS Dhoni", " cricket"), ("Ricky Ponting", "Ricky Ponting", " cricket"), ("Kapil Dev", "Kapil Dev", " cricket"),
    ("Lou Gehrig", "Lou Gehrig", " baseball"), ("Jackie Robinson", "Jackie Robinson", " baseball"), ("Ty Cobb", "Ty Cobb", " baseball"),
    ("Willie Mays", "Willie Mays", " baseball"), ("Bobby Orr", "Bobby Orr", [" ice hockey", " hockey"]),
    ("Gordie Howe", "Gordie Howe", [" ice hockey", " hockey"]), ("Alexander Ovechkin", "Alexander Ovechkin", [" ice hockey", " hockey"]),
    ("Thierry Henry", "Thierry Henry", [" football", " soccer"]), ("Johan Cruyff", "Johan Cruyff", [" football", " soccer"]),
    ("Franz Beckenbauer", "Franz Beckenbauer", [" football", " soccer"]), ("Zlatan Ibrahimović", "Zlatan Ibrahimović", [" football", " soccer"]),
    ("Mohamed Salah", "Mohamed Salah", [" football", " soccer"]), ("Wayne Rooney", "Wayne Rooney", [" football", " soccer"]),
    ("Valentino Rossi", "Valentino Rossi", [" motorcycle racing", " MotoGP"]), ("Max Verstappen", "Max Verstappen", [" Formula One", " Formula 1"]),
    ("Peyton Manning", "Peyton Manning", " American football"), ("Joe Montana", "Joe Montana", " American football"),
    ("Jerry Rice", "Jerry Rice", " American football"), 
])

relation("instrument", "instruments", [
    "{X} is famous for playing the", "The instrument played by {x} is the", "{X} was a master of the",
    "{X} became famous playing the", "{X} is best known as a musician who played the", "The musical instrument of {x} was the",
], [
    ("Jimi Hendrix", "Jimi Hendrix", " guitar"), ("Eric Clapton", "Eric Clapton", " guitar"), ("B.B. King", "B.B. King", " guitar"),
    ("Jimmy Page", "Jimmy Page", " guitar"), ("Eddie Van Halen", "Eddie Van Halen", " guitar"),
    ("Carlos Santana", "Carlos Santana", " guitar"), ("Andrés Segovia", "Andrés Segovia", " guitar"),
    ("Louis Armstrong", "Louis Armstrong", " trumpet"), ("Miles Davis", "Miles Davis", " trumpet"),
    ("Dizzy Gillespie", "Dizzy Gillespie", " trumpet"), ("John Coltrane", "John Coltrane", " saxophone"),
    ("Charlie Parker", "Charlie Parker", " saxophone"), ("Kenny G", "Kenny G", " saxophone"),
    ("Yo-Yo Ma", "Yo-Yo Ma", " cello"), ("Pablo Casals", "Pablo Casals", " cello"), ("Jacqueline du Pré", "Jacqueline du Pré", " cello"),
    ("Itzhak Perlman", "Itzhak Perlman", " violin"), ("Niccolò Paganini", "Niccolò Paganini", " violin"),
    ("Joshua Bell", "Joshua Bell", " violin"), ("Ringo Starr", "Ringo Starr", " drums"), ("John Bonham", "John Bonham", " drums"),
    ("Keith Moon", "Keith Moon", " drums"), ("Buddy Rich", "Buddy Rich", " drums"), ("Frédéric Chopin", "Frédéric Chopin", " piano"),
    ("Franz Liszt", "Franz Liszt", " piano"), ("Lang Lang", "Lang Lang", " piano"), ("Glenn Gould", "Glenn Gould", " piano"),
    ("Thelonious Monk", "Thelonious Monk", " piano"), ("Benny Goodman", "Benny Goodman", " clarinet"),
    ("Ravi Shankar", "Ravi Shankar", " sitar"), ("James Galway", "James Galway", " flute"),
    ("Jaco Pastorius", "Jaco Pastorius", [" bass", " bass guitar"]), ("Larry Adler", "Larry Adler", " harmonica"),
])

relation("founded by", "founders", [
    "{X} was founded by", "The founder of {x} is", "{X} was started by", "The company {x} was founded by",
], [
    ("Amazon", "Amazon", " Jeff Bezos"), ("Ford", "Ford", " Henry Ford"), ("Dell", "Dell", " Michael Dell"),
    ("KFC", "KFC", [" Colonel Sanders", " Harland Sanders"]), ("Walmart", "Walmart", " Sam Walton"),
    ("Ferrari", "Ferrari", " Enzo Ferrari"), ("Porsche", "Porsche", " Ferdinand Porsche"),
    ("Lamborghini", "Lamborghini", " Ferruccio Lamborghini"), ("Honda", "Honda", " Soichiro Honda"),
    ("Boeing", "Boeing", " William Boeing"), ("Chanel", "Chanel", " Coco Chanel"), ("IKEA", "IKEA", " Ingvar Kamprad"),
    ("Zara", "Zara", " Amancio Ortega"), ("Alibaba", "Alibaba", " Jack Ma"), ("Virgin Group", "Virgin Group", " Richard Branson"),
    ("Adidas", "Adidas", " Adolf Dassler"), ("Puma", "Puma", " Rudolf Dassler"), ("Gucci", "Gucci", " Guccio Gucci"),
    ("Tata Group", "Tata Group", " Jamsetji Tata"), ("Samsung", "Samsung", " Lee Byung-chul"),
    ("Huawei", "Huawei", " Ren Zhengfei"), ("Kellogg's", "Kellogg's", " W. K. Kellogg"),
    ("the Hershey Company", "Hershey Company", " Milton Hershey"), ("Nintendo", "Nintendo", " Fusajiro Yamauchi"),
    ("Reliance Industries", "Reliance Industries", " Dhirubhai Ambani"), ("Carnegie Steel", "Carnegie Steel", " Andrew Carnegie"),
    
    
])

relation("country of origin", "brands", [
    "The company {x} was founded in the country of", "{X} is a company from", "{X} is a brand that comes from",
    "The home country of {x} is",
], [
    ("Samsung", "Samsung", " South Korea"), ("Hyundai", "Hyundai", " South Korea"), ("Volkswagen", "Volkswagen", " Germany"),
    ("BMW", "BMW", " Germany"), ("Adidas", "Adidas", " Germany"), ("IKEA", "IKEA", " Sweden"), ("Volvo", "Volvo", " Sweden"),
    ("Nokia", "Nokia", " Finland"), ("Sony", "Sony", " Japan"), ("Honda", "Honda", " Japan"), ("Toyota", "Toyota", " Japan"),
    ("Ferrari", "Ferrari", " Italy"), ("Lego", "Lego", " Denmark"), ("Nestlé", "Nestlé", " Switzerland"),
    ("Rolex", "Rolex", " Switzerland"), ("Huawei", "Huawei", " China"), ("Alibaba", "Alibaba", " China"),
    ("Peugeot", "Peugeot", " France"), ("Tata", "Tata", " India"), ("Spotify", "Spotify", " Sweden"), ("Zara", "Zara", " Spain"),
    ("Carlsberg", "Carlsberg", " Denmark"), ("Lamborghini", "Lamborghini", " Italy"),
    ("Porsche", "Porsche", " Germany"), ("Gucci", "Gucci", " Italy"), ("Chanel", "Chanel", " France"),
    ("Mercedes-Benz", "Mercedes-Benz", " Germany"), ("Audi", "Audi", " Germany"), ("Siemens", "Siemens", " Germany"),
    ("Bosch", "Bosch", " Germany"), ("Nissan", "Nissan", " Japan"), ("Mazda", "Mazda", " Japan"), ("Panasonic", "Panasonic", " Japan"),
    ("Toshiba", "Toshiba", " Japan"), ("Canon", "Canon", " Japan"), ("Yamaha", "Yamaha", " Japan"), ("Uniqlo", "Uniqlo", " Japan"),
    ("Alfa Romeo", "Alfa Romeo", " Italy"), ("Maserati", "Maserati", " Italy"), ("Prada", "Prada", " Italy"),
    ("Versace", "Versace", " Italy"), ("Ducati", "Ducati", " Italy"), ("Louis Vuitton", "Louis Vuitton", " France"),
    ("Citroën", "Citroën", " France"), ("Michelin", "Michelin", " France"), ("L'Oréal", "L'Oréal", " France"),
    ("H&M", "H&M", " Sweden"), ("Ericsson", "Ericsson", " Sweden"), ("Saab", "Saab", " Sweden"), ("Kia", "Kia", " South Korea"),
    ("LG", "LG", " South Korea"), ("Lenovo", "Lenovo", " China"), ("Xiaomi", "Xiaomi", " China"), ("Haier", "Haier", " China"),
    ("Infosys", "Infosys", " India"), ("Swatch", "Swatch", " Switzerland"), 
])

relation("home country", "nationalities", [
    "{X} was born in the country of", "The home country of {x} is", "{X} was born and grew up in",
    "{X} came from the country of",
], [
    ("Vladimir Putin", "Vladimir Putin", " Russia"), ("Pablo Picasso", "Pablo Picasso", " Spain"),
    ("Frida Kahlo", "Frida Kahlo", " Mexico"), ("Leo Tolstoy", "Leo Tolstoy", " Russia"), ("Confucius", "Confucius", " China"),
    ("Pelé", "Pelé", " Brazil"), ("Lionel Messi", "Lionel Messi", " Argentina"), ("Cristiano Ronaldo", "Cristiano Ronaldo", " Portugal"),
    ("Shakira", "Shakira", " Colombia"), ("Bob Marley", "Bob Marley", " Jamaica"), ("Justin Trudeau", "Justin Trudeau", " Canada"),
    ("Angela Merkel", "Angela Merkel", " Germany"), ("Emmanuel Macron", "Emmanuel Macron", " France"),
    ("Narendra Modi", "Narendra Modi", " India"), 
    ("Simón Bolívar", "Simón Bolívar", " Venezuela"), ("Akira Kurosawa", "Akira Kurosawa", " Japan"),
    ("Salvador Dalí", "Salvador Dalí", " Spain"), ("Frédéric Chopin", "Frédéric Chopin", " Poland"),
    ("Hans Christian Andersen", "Hans Christian Andersen", " Denmark"), ("Henrik Ibsen", "Henrik Ibsen", " Norway"),
    ("Pyotr Ilyich Tchaikovsky", "Pyotr Ilyich Tchaikovsky", " Russia"), ("Dante Alighieri", "Dante Alighieri", " Italy"),
    ("Miguel de Cervantes", "Miguel de Cervantes", " Spain"), 
    ("Kofi Annan", "Kofi Annan", " Ghana"), ("Genghis Khan", "Genghis Khan", " Mongolia"), ("Ho Chi Minh", "Ho Chi Minh", " Vietnam"),
    ("Jacinda Ardern", "Jacinda Ardern", " New Zealand"), ("Steve Irwin", "Steve Irwin", " Australia"),
    ("Usain Bolt", "Usain Bolt", " Jamaica"), ("Wolfgang Amadeus Mozart", "Wolfgang Amadeus Mozart", " Austria"),
    ("Ludwig van Beethoven", "Ludwig van Beethoven", " Germany"), 
    ("Xi Jinping", "Xi Jinping", " China"), 
    ("Nicolaus Copernicus", "Nicolaus Copernicus", " Poland"), ("Jean Sibelius", "Jean Sibelius", " Finland"),
    ("Fyodor Dostoevsky", "Fyodor Dostoevsky", " Russia"), 
    ("Gabriel García Márquez", "Gabriel García Márquez", " Colombia"), ("Paulo Coelho", "Paulo Coelho", " Brazil"),
    ("Rabindranath Tagore", "Rabindranath Tagore", " India"),
    ("Jawaharlal Nehru", "Jawaharlal Nehru", " India"), ("Indira Gandhi", "Indira Gandhi", " India"),
    ("Benito Mussolini", "Benito Mussolini", " Italy"), ("Giuseppe Verdi", "Giuseppe Verdi", " Italy"),
    ("Antonio Vivaldi", "Antonio Vivaldi", " Italy"), ("Galileo Galilei", "Galileo Galilei", " Italy"),
    ("Johann Sebastian Bach", "Johann Sebastian Bach", " Germany"), ("Richard Wagner", "Richard Wagner", " Germany"),
    ("Victor Hugo", "Victor Hugo", " France"), ("Voltaire", "Voltaire", " France"),
    ("Joan of Arc", "Joan of Arc", " France"), ("Charles de Gaulle", "Charles de Gaulle", " France"),
    ("Hayao Miyazaki", "Hayao Miyazaki", " Japan"), ("Shinzo Abe", "Shinzo Abe", " Japan"),
    ("Vladimir Lenin", "Vladimir Lenin", " Russia"), ("Yuri Gagarin", "Yuri Gagarin", " Russia"),
    ("Anton Chekhov", "Anton Chekhov", " Russia"), ("Diego Rivera", "Diego Rivera", " Mexico"),
    ("Hugo Chávez", "Hugo Chávez", " Venezuela"), ("Eva Perón", "Eva Perón", " Argentina"),
    ("Jorge Luis Borges", "Jorge Luis Borges", " Argentina"), ("Pablo Neruda", "Pablo Neruda", " Chile"),
    ("Augusto Pinochet", "Augusto Pinochet", " Chile"), ("Anwar Sadat", "Anwar Sadat", " Egypt"),
    ("Gamal Abdel Nasser", "Gamal Abdel Nasser", " Egypt"), ("Recep Tayyip Erdoğan", "Recep Tayyip Erdoğan", " Turkey"),
    ("Orhan Pamuk", "Orhan Pamuk", " Turkey"), ("Ingmar Bergman", "Ingmar Bergman", " Sweden"),
    ("Alfred Nobel", "Alfred Nobel", " Sweden"), ("Roald Amundsen", "Roald Amundsen", " Norway"),
    ("Edvard Munch", "Edvard Munch", " Norway"), ("Søren Kierkegaard", "Søren Kierkegaard", " Denmark"),
    ("Lech Wałęsa", "Lech Wałęsa", " Poland"), ("Pope John Paul II", "John Paul II", " Poland"),
    ("Haile Selassie", "Haile Selassie", " Ethiopia"), ("Robert Mugabe", "Robert Mugabe", " Zimbabwe"),
    ("Fela Kuti", "Fela Kuti", " Nigeria"), ("Chinua Achebe", "Chinua Achebe", " Nigeria"),
    ("Bashar al-Assad", "Bashar al-Assad", " Syria"), ("Saddam Hussein", "Saddam Hussein", " Iraq"),
    ("Ayatollah Khomeini", "Ayatollah Khomeini", " Iran"), ("Vo Nguyen Giap", "Vo Nguyen Giap", " Vietnam"),
])

relation("animal class", "animals", [
    "The {x} is a type of", "Biologically, the {x} is classified as a", "Scientists classify the {x} as a",
    "In biology, the {x} counts as a",
], [
    ("dolphin", "dolphin", " mammal"), ("whale", "whale", " mammal"), ("horse", "horse", " mammal"),
    ("elephant", "elephant", " mammal"), ("penguin", "penguin", " bird"), ("eagle", "eagle", " bird"), ("ostrich", "ostrich", " bird"),
    ("owl", "owl", " bird"), ("parrot", "parrot", " bird"), ("crocodile", "crocodile", " reptile"), ("snake", "snake", " reptile"),
    ("turtle", "turtle", " reptile"), ("lizard", "lizard", " reptile"), ("frog", "frog", " amphibian"),
    ("salamander", "salamander", " amphibian"), ("toad", "toad", " amphibian"), ("shark", "shark", " fish"),
    ("salmon", "salmon", " fish"), ("tuna", "tuna", " fish"), ("ant", "ant", " insect"), ("bee", "bee", " insect"),
    ("butterfly", "butterfly", " insect"), ("beetle", "beetle", " insect"), ("spider", "spider", " arachnid"),
    ("scorpion", "scorpion", " arachnid"),
])

relation("opposite", "opposites", [
    "The opposite of {x} is", "The antonym of {x} is", "The word {x} is the opposite of", "The opposite of the word {x} is",
], [
    (w, w, " " + a) for w, a in [
        ("hot", "cold"), ("up", "down"), ("day", "night"), ("black", "white"), ("fast", "slow"),
        ("true", "false"), ("north", "south"), ("east", "west"), ("left", "right"), ("wet", "dry"), ("full", "empty"),
        ("push", "pull"), ("inside", "outside"), ("top", "bottom"), ("first", "last"), ("yes", "no"), ("always", "never"),
        ("alive", "dead"), ("male", "female"), ("rich", "poor"), ("early", "late"), ("win", "lose"), ("buy", "sell"),
        ("question", "answer"), ("positive", "negative"), ("maximum", "minimum"), ("entrance", "exit"),
        ("sunrise", "sunset"), ("war", "peace"), ("love", "hate"), ("heavy", "light"), ("thick", "thin"), ("tall", "short"),
    ]
])

relation("inventor", "inventions", [
    "The {x} was invented by", "The inventor of the {x} is", "The {x} was created by", "The person who invented the {x} is",
], [
    ("telephone", "telephone", " Alexander Graham Bell"), ("World Wide Web", "World Wide Web", " Tim Berners-Lee"),
    ("printing press", "printing press", " Johannes Gutenberg"), ("dynamite", "dynamite", " Alfred Nobel"),
    ("phonograph", "phonograph", " Thomas Edison"), ("Linux kernel", "Linux kernel", " Linus Torvalds"),
    ("Python programming language", "Python programming language", " Guido van Rossum"),
    ("C++ programming language", "C++ programming language", " Bjarne Stroustrup"), ("periodic table", "periodic table", " Dmitri Mendeleev"),
    ("polio vaccine", "polio vaccine", " Jonas Salk"), ("smallpox vaccine", "smallpox vaccine", " Edward Jenner"),
    ("Morse code", "Morse code", " Samuel Morse"), ("diesel engine", "diesel engine", " Rudolf Diesel"),
    ("Braille writing system", "Braille writing system", " Louis Braille"), ("saxophone", "saxophone", " Adolphe Sax"),
    ("Rubik's Cube", "Rubik's Cube", " Ernő Rubik"), ("AK-47 rifle", "AK-47 rifle", " Mikhail Kalashnikov"),
    ("Celsius temperature scale", "Celsius temperature scale", " Anders Celsius"),
    ("Fahrenheit temperature scale", "Fahrenheit temperature scale", " Daniel Gabriel Fahrenheit"),
    ("video game Tetris", "Tetris", " Alexey Pajitnov"), ("cotton gin", "cotton gin", " Eli Whitney"),
    ("revolver", "revolver", " Samuel Colt"), ("lightning rod", "lightning rod", " Benjamin Franklin"),
    ("mobile phone", "mobile phone", " Martin Cooper"),
])


def rows() -> list[dict]:
    out = []
    for name, spec in RELATIONS.items():
        for written, subject, answer in spec["items"]:
            wordings = [w.format(x=written, X=cap(written)) for w in spec["wordings"]]
            answers = answer if isinstance(answer, list) else [answer]
            out.append({"prompt": wordings[0], "subject": subject, "answer": answers[0], "answers": answers,
                        "relation": name, "topic": spec["topic"], "paraphrases": wordings[1:]})
    return out


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("candidates.jsonl"))
    data = rows()
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data), encoding="utf-8")
    print(f"wrote {len(data)} candidates to {out}")
