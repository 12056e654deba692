"""The Spanish variant of the one demo dataset: a shop in Madrid, Spanish names and products, Spanish phones.

The same products (GTINs, prices, VAT, categories), customers (ids, cards, tiers, points) and offers as the
English demo (``edge.demo.seed.demo_dataset``), only what people read is in Spanish; so every test written
against the demo holds in both. Category names stay the dataset's codes (offers refer to them).
"""

from __future__ import annotations

import json
from typing import Any

from edge.core.contacts import contact_hash

STORE = {"name": "Supermercado Demo", "locale": "es_ES", "currency": "EUR", "timezone": "Europe/Madrid",
         "country": "ES"}  # fmt: skip

PRODUCTS = {
    "Whole Milk 1L": "Leche entera 1L", "Semi-Skimmed Milk 1L": "Leche semidesnatada 1L",
    "Greek Yoghurt 500g": "Yogur griego 500g", "Butter 250g": "Mantequilla 250g", "Gouda 400g": "Queso gouda 400g",
    "Cheddar 200g": "Queso cheddar 200g", "Cream 200ml": "Nata 200ml", "Skyr 450g": "Skyr 450g",
    "Mozzarella 125g": "Mozzarella 125g", "Kefir 500ml": "Kéfir 500ml",
    "Sourdough Loaf": "Pan de masa madre", "Wholemeal Bread": "Pan integral", "Croissant": "Cruasán",
    "Baguette": "Barra de pan", "Rye Bread": "Pan de centeno", "Brioche": "Brioche", "Bagels 4-pack": "Bagels 4 uds",
    "Cinnamon Roll": "Rollo de canela", "Pita 6-pack": "Pan de pita 6 uds", "Focaccia": "Focaccia",
    "Bananas 1kg": "Plátanos 1kg", "Apples Elstar 1kg": "Manzanas Elstar 1kg", "Tomatoes 500g": "Tomates 500g",
    "Cucumber": "Pepino", "Avocado": "Aguacate", "Lemons 4-pack": "Limones 4 uds", "Carrots 1kg": "Zanahorias 1kg",
    "Spinach 200g": "Espinacas 200g", "Strawberries 400g": "Fresas 400g", "Potatoes 2kg": "Patatas 2kg",
    "Sparkling Water 1.5L": "Agua con gas 1,5L", "Orange Juice 1L": "Zumo de naranja 1L", "Cola 1.5L": "Cola 1,5L",
    "Ground Coffee 250g": "Café molido 250g", "Green Tea 20 bags": "Té verde 20 bolsitas",
    "Apple Juice 1L": "Zumo de manzana 1L", "Lemonade 1L": "Limonada 1L", "Espresso Beans 500g": "Café en grano 500g",
    "Iced Tea 1.5L": "Té helado 1,5L", "Oat Drink 1L": "Bebida de avena 1L",
    "Salted Crisps 200g": "Patatas fritas 200g", "Dark Chocolate 100g": "Chocolate negro 100g",
    "Milk Chocolate 100g": "Chocolate con leche 100g", "Mixed Nuts 200g": "Frutos secos 200g",
    "Stroopwafels": "Gofres de caramelo", "Popcorn 150g": "Palomitas 150g", "Granola Bar": "Barrita de granola",
    "Pretzels 250g": "Pretzels 250g", "Rice Cakes": "Tortitas de arroz", "Licorice 300g": "Regaliz 300g",
    "Dish Soap 500ml": "Lavavajillas 500ml", "Laundry Liquid 1.5L": "Detergente líquido 1,5L",
    "Paper Towels 4-pack": "Papel de cocina 4 uds", "Toilet Paper 8-pack": "Papel higiénico 8 uds",
    "Sponges 3-pack": "Estropajos 3 uds", "Bin Bags 20": "Bolsas de basura 20", "Glass Cleaner": "Limpiacristales",
    "Dishwasher Tabs 30": "Pastillas lavavajillas 30", "Fabric Softener 1L": "Suavizante 1L",
    "Kitchen Foil": "Papel de aluminio",
    "Shampoo 250ml": "Champú 250ml", "Toothpaste 75ml": "Pasta de dientes 75ml", "Shower Gel 250ml": "Gel de ducha 250ml",
    "Deodorant": "Desodorante", "Hand Soap": "Jabón de manos", "Razor Blades 4": "Cuchillas de afeitar 4",
    "Sunscreen SPF30": "Protector solar FPS30", "Body Lotion": "Loción corporal", "Cotton Pads": "Discos de algodón",
    "Lip Balm": "Bálsamo labial",
    "Old Gouda (per kg)": "Queso curado (por kg)", "Serrano Ham (per kg)": "Jamón serrano (por kg)",
    "Olives Mix (per kg)": "Aceitunas variadas (por kg)", "Loose Tomatoes (per kg)": "Tomates a granel (por kg)",
    "Smoked Salmon (per kg)": "Salmón ahumado (por kg)",
}  # fmt: skip
VARIANTS = {" Organic": " ecológico", " Family Size": " tamaño familiar"}
FIRST = ["Ana", "Bruno", "Carmen", "Diego", "Elena", "Fernando", "Gloria", "Hugo", "Inés", "Javier", "Lucía",
         "Manuel", "Marta", "Nicolás", "Olga", "Pablo", "Quique", "Rosa", "Sergio", "Teresa", "Úrsula", "Víctor",
         "Wendy", "Ximena", "Yolanda", "Zoe"]  # fmt: skip
LAST = ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín",
        "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno"]  # fmt: skip
OFFERS = {
    "Dairy week": "Semana láctea", "Milk deal": "Oferta leche", "Snacks 3 for 2": "Aperitivos 3x2",
    "Big shop": "Compra grande", "Double points on bakery": "Puntos dobles en panadería",
    "Gold members": "Socios Oro", "Happy birthday": "Feliz cumpleaños", "Coupon": "Cupón",
    "Welcome back": "Bienvenido de nuevo",
}  # fmt: skip
REWARDS = {"Free coffee": "Café gratis", "EUR 5 off": "5 € de descuento"}


def spanish_name(name: str) -> str:
    """A demo product's Spanish name: ``Whole Milk 1L Organic`` -> ``Leche entera 1L ecológico``."""
    for variant, spanish in VARIANTS.items():
        if name.endswith(variant.strip()) and name[: -len(variant.strip())].strip() in PRODUCTS:
            return PRODUCTS[name[: -len(variant.strip())].strip()] + spanish
    return PRODUCTS.get(name, name)


def spanish_phone(i: int) -> str:
    """The i-th demo customer's mobile number as a Spanish customer gives it (``612 34 56 01``)."""
    digits = f"6{12_345_600 + i}"
    return f"{digits[:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"


def localise_dataset(data: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """``data`` (``demo_dataset``'s shapes) with what people read in Spanish, in place; returns it.

    Products, offers, rewards and past orders' item names; each customer's name, e-mail and phone (a
    Spanish mobile, hashed as read in ES) and profile language (every 13th member chose English).
    """
    for p in data["products"]:
        p["name"] = spanish_name(p["name"])
    for o in data["offers"]:
        o["name"] = OFFERS.get(o["name"], REWARDS.get(o["name"], o["name"]))
    for c in data["customers"]:
        _localise_customer(c)
    for r in data.get("rewards", []):
        r["name"] = REWARDS.get(r["name"], r["name"])
    return data


def _localise_customer(c: dict[str, Any]) -> None:
    i = int(c["id"][1:]) - 1000
    first, last = spanish_person(i)
    c["display_name"] = f"{first} {last}"
    c["phone_hash"] = contact_hash("phone", spanish_phone(i), "ES")
    c["email_hash"] = contact_hash("email", f"{first.lower()}.{i}@example.com")
    prefs = json.loads(c["preferences"])
    prefs["language"] = "en" if i % 13 == 0 else "es"
    c["preferences"] = json.dumps(prefs)
    c["rewards"] = json.dumps([{**r, "name": REWARDS.get(r["name"], r["name"])} for r in json.loads(c["rewards"])])
    for key in ("recent_purchases", "pickup_orders"):
        orders = json.loads(c[key])
        for order in orders:
            order["items"] = [{**item, "name": spanish_name(item["name"])} for item in order["items"]]
        c[key] = json.dumps(orders)


def spanish_person(i: int) -> tuple[str, str]:
    """(first name, surname) of the i-th demo customer in the Spanish store."""
    return FIRST[i % len(FIRST)], LAST[i % len(LAST)]
