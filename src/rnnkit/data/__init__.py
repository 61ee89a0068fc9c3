"""Data utilities and data sets, one module per job.

``batching``        padded batches from ragged sequences, length masks, bucketing by length
``text``            word tokenizer, word and character vocabularies
``corpora``         text corpora: movie-review sentiment, Shakespeare's works
``timeseries``      time series (S&P 500, sunspots, Nile, CO2), sliding windows, chronological splits
``classification``  sequence classification sets (JapaneseVowels, BasicMotions, watch), subject splits
``packages``        which installed package carries each data set; ``available()``
``cache``           the ``.npz`` cache of parsed data (``$RNNKIT_CACHE`` or ``~/.cache/rnnkit``)
``audio``           waveforms from espeak-ng speech or audio files
``speech_features`` speech features: MFCC, per-utterance normalisation, frame context
``speech``          the spoken-digit corpus, rendered, featurised and cached
``files``           your own data files: long tables, NPZ, series, text (the layouts are documented here)
``tables``          reading CSV / TSV / Parquet into columns; column detection; series files
``long_format``     a long table (one row per step) -> sequences, labels and a feature encoding
``splits``          forecast windows, chronological / stratified / group splits of sequences
"""
