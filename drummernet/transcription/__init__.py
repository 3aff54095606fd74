"""Transcription: a recording -> the analyzer's impulses -> note events -> MIDI, JSON, CSV, audio."""
