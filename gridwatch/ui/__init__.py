"""Presentation for the app: the view-model (filters, view plans, figures), offline folium
maps, and the Chinese/English interface texts. Imported by ``app.py`` and ``app_pages/``."""
