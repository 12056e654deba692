"""Reading and writing the store database: products, customers, offers, sales. No Textual here."""
