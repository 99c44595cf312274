"""Datasets of the course. Every one is generated here, deterministically from a seed, or
shipped inside a well-known package (scikit-learn's digits); nothing is downloaded at run time."""

from .audio import Segment, speech_like
from .bpe import BytePairTokenizer
from .features import dct_matrix, deltas, hz_to_mel, log_mel_spectrogram, mel_filterbank, mel_to_hz, mfcc, power_spectrogram
from .functions import quadratic
from .graphs import Graph, sbm_graph
from .images import CAPTION_WORDS, NUMBER_WORDS, Split, digit_captions, digits, null_captions
from .loaders import tensor_loader
from .music import MusicStems, music_stems
from .phones import PHONE_KINDS, PHONE_UNITS, PhoneUtterance, phone_corpus
from .scaling import Standardizer
from .sequences import adding_problem, reverb_regression, reverb_terms
from .shapes import SHAPE_CLASSES, shapes_segmentation
from .text import SIMPLE_ENGLISH, STORY_ENGLISH, CharVocab, Grammar, next_token_windows, stream_windows
from .translation import ChainedTranslation, Pair, TranslationData, WordVocab, chain_pairs, chained_translation, toy_translation

__all__ = [
    "BytePairTokenizer",
    "CAPTION_WORDS",
    "NUMBER_WORDS",
    "SHAPE_CLASSES",
    "SIMPLE_ENGLISH",
    "STORY_ENGLISH",
    "CharVocab",
    "Grammar",
    "MusicStems",
    "PHONE_KINDS",
    "PHONE_UNITS",
    "PhoneUtterance",
    "Graph",
    "Pair",
    "Segment",
    "Split",
    "Standardizer",
    "TranslationData",
    "WordVocab",
    "adding_problem",
    "digit_captions",
    "dct_matrix",
    "deltas",
    "digits",
    "hz_to_mel",
    "log_mel_spectrogram",
    "mel_filterbank",
    "mel_to_hz",
    "mfcc",
    "music_stems",
    "next_token_windows",
    "stream_windows",
    "null_captions",
    "phone_corpus",
    "power_spectrogram",
    "quadratic",
    "reverb_regression",
    "reverb_terms",
    "sbm_graph",
    "shapes_segmentation",
    "speech_like",
    "tensor_loader",
    "toy_translation",
    "ChainedTranslation",
    "chain_pairs",
    "chained_translation",
]
