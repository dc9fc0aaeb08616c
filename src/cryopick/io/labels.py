"""Types of the RELION metadata labels this project reads or writes.

Known labels are parsed to their type; unknown labels are carried through as the
exact text they had, as RELION >= 3.1 does.
"""

from __future__ import annotations

INT_LABELS = frozenset(
    """
    rlnClassNumber rlnOpticsGroup rlnImageSize rlnImageDimensionality rlnGroupNumber
    rlnNrOfSignificantSamples rlnRandomSubset rlnParticleSelectionType rlnSelected
    rlnPipeLineJobCounter rlnBeamTiltClass rlnNrOfFrames rlnMicrographFrameNumber
    rlnGroupNrParticles rlnCurrentIteration rlnNrClasses rlnOriginalImageSize
    rlnImageSizeX rlnImageSizeY rlnImageSizeZ rlnMicrographId rlnHelicalTubeID
    rlnSpectralIndex rlnNrOfOpticsGroups rlnNrGroups rlnNrBodies
    rlnCurrentImageSize rlnNumberOfIterations rlnRandomSeed rlnReferenceDimensionality
    rlnDataDimensionality rlnCoarseImageSize
    """.split()
)

BOOL_LABELS = frozenset(
    """
    rlnCtfDataAreCtfPremultiplied rlnJobIsContinue rlnJobIsTomo rlnDoCorrectCtf
    rlnIsFlip rlnDoAutoRefine rlnDoSplitRandomHalves rlnDoZeroMask rlnDoCenterClasses
    rlnCtfDataArePhaseFlipped rlnDoIgnoreCtfUntilFirstPeak rlnHasConverged
    """.split()
)

STRING_LABELS = frozenset(
    """
    rlnImageName rlnMicrographName rlnMicrographCoordinates rlnOpticsGroupName rlnCtfImage
    rlnMicrographMovieName rlnMicrographMetadata rlnGroupName rlnReferenceImage
    rlnJobTypeLabel rlnJobOptionVariable rlnJobOptionValue rlnPipeLineProcessName
    rlnPipeLineProcessAlias rlnPipeLineProcessTypeLabel rlnPipeLineProcessStatusLabel
    rlnPipeLineNodeName rlnPipeLineNodeTypeLabel rlnPipeLineEdgeFromNode
    rlnPipeLineEdgeToNode rlnPipeLineEdgeProcess rlnMicrographGainName
    rlnMicrographDefectFile rlnOriginalImageName rlnModelStarFile rlnOptimiserStarFile
    rlnDataStarFile rlnOutputRootName rlnClassAverages
    """.split()
)

DOUBLE_LABELS = frozenset(
    """
    rlnCoordinateX rlnCoordinateY rlnCoordinateZ rlnAutopickFigureOfMerit rlnAnglePsi
    rlnAngleRot rlnAngleTilt rlnOriginXAngst rlnOriginYAngst rlnOriginX rlnOriginY
    rlnImagePixelSize rlnMicrographPixelSize rlnMicrographOriginalPixelSize rlnVoltage
    rlnSphericalAberration rlnAmplitudeContrast rlnDefocusU rlnDefocusV rlnDefocusAngle
    rlnCtfBfactor rlnCtfScalefactor rlnPhaseShift rlnCtfMaxResolution rlnCtfFigureOfMerit
    rlnCtfAstigmatism rlnNormCorrection rlnLogLikeliContribution rlnMaxValueProbDistribution
    rlnClassDistribution rlnAccuracyRotations rlnAccuracyTranslationsAngst
    rlnEstimatedResolution rlnOverallFourierCompleteness rlnClassPriorOffsetX
    rlnClassPriorOffsetY rlnClassScore rlnPredictedClassScore rlnAccumMotionTotal
    rlnAccumMotionEarly rlnAccumMotionLate rlnBeamTiltX rlnBeamTiltY rlnCtfValidationScore
    rlnMagnification rlnDetectorPixelSize rlnParticleDiameter rlnMicrographDoseRate
    rlnMicrographPreExposure rlnMicrographBinning rlnCtfIceRingDensity rlnMicrographShiftX
    rlnMicrographShiftY rlnSsnrMap rlnReferenceSigma2 rlnReferenceTau2 rlnResolution
    rlnAngstromResolution rlnFourierCompleteness rlnSigmaOffsetsAngst rlnCurrentResolution
    rlnGroupScaleCorrection rlnTau2FudgeFactor rlnPsiStep rlnOffsetRange rlnOffsetStep
    rlnAutopickFigureOfMeritThreshold rlnGoldStandardFsc rlnSigma2Noise rlnNormCorrectionAverage
    rlnLogLikelihood rlnAveragePmax rlnPaddingFactor rlnOverallAccuracyRotations
    rlnOverallAccuracyTranslationsAngst rlnSamplingPerturbInstance rlnSamplingPerturbFactor
    """.split()
)


#: Labels whose values name files (relative to the project).
FILE_LABELS = frozenset(
    """
    rlnMicrographName rlnMicrographCoordinates rlnImageName rlnCtfImage rlnReferenceImage
    rlnMicrographMovieName rlnMicrographMetadata rlnMicrographGainName rlnMicrographDefectFile
    rlnOriginalImageName rlnModelStarFile rlnExperimentalDataStarFile rlnOrientSamplingStarFile
    rlnOptimiserStarFile rlnDataStarFile rlnClassAverages
    """.split()
)


def label_kind(label: str) -> str:
    """Return ``"int"``, ``"bool"``, ``"double"``, ``"string"`` or ``"unknown"``."""
    if label in INT_LABELS:
        return "int"
    if label in BOOL_LABELS:
        return "bool"
    if label in DOUBLE_LABELS:
        return "double"
    if label in STRING_LABELS:
        return "string"
    return "unknown"
