#include <stochmorph/log.h>

PetscLogEvent SM_EVENT_Covariance, SM_EVENT_FFT, SM_EVENT_Noise, SM_EVENT_Threshold, SM_EVENT_H5Write, SM_EVENT_H5Read,
  SM_EVENT_Surface, SM_EVENT_TwoPoint, SM_EVENT_EDT, SM_EVENT_Components, SM_EVENT_Paths, SM_EVENT_MaxBall,
  SM_EVENT_TransportSetup, SM_EVENT_TransportSolve, SM_EVENT_TransportKept, SM_EVENT_TransportAssemble, SM_EVENT_ImageRead, SM_EVENT_Fit,
  SM_EVENT_Shape, SM_EVENT_Raster, SM_EVENT_Watershed, SM_EVENT_StarAtoms, SM_EVENT_StarCover, SM_EVENT_StarMerge,
  SM_EVENT_ShapeFit, SM_EVENT_ShapeOffset, SM_EVENT_TaskSteal;

PetscErrorCode sm_log_register(void)
{
  static PetscBool  done = PETSC_FALSE;
  PetscClassId      cid;

  PetscFunctionBeginUser;
  if (done) PetscFunctionReturn(PETSC_SUCCESS);
  done = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("stochmorph", &cid));
  PetscCall(PetscLogEventRegister("SMCovariance", cid, &SM_EVENT_Covariance));
  PetscCall(PetscLogEventRegister("SMFFT", cid, &SM_EVENT_FFT));
  PetscCall(PetscLogEventRegister("SMNoise", cid, &SM_EVENT_Noise));
  PetscCall(PetscLogEventRegister("SMThreshold", cid, &SM_EVENT_Threshold));
  PetscCall(PetscLogEventRegister("SMH5Write", cid, &SM_EVENT_H5Write));
  PetscCall(PetscLogEventRegister("SMH5Read", cid, &SM_EVENT_H5Read));
  PetscCall(PetscLogEventRegister("SMSurface", cid, &SM_EVENT_Surface));
  PetscCall(PetscLogEventRegister("SMTwoPoint", cid, &SM_EVENT_TwoPoint));
  PetscCall(PetscLogEventRegister("SMEDT", cid, &SM_EVENT_EDT));
  PetscCall(PetscLogEventRegister("SMComponents", cid, &SM_EVENT_Components));
  PetscCall(PetscLogEventRegister("SMPaths", cid, &SM_EVENT_Paths));
  PetscCall(PetscLogEventRegister("SMMaxBall", cid, &SM_EVENT_MaxBall));
  PetscCall(PetscLogEventRegister("SMTransportSetup", cid, &SM_EVENT_TransportSetup));
  PetscCall(PetscLogEventRegister("SMTransportSolve", cid, &SM_EVENT_TransportSolve));
  PetscCall(PetscLogEventRegister("SMTransportKept", cid, &SM_EVENT_TransportKept));
  PetscCall(PetscLogEventRegister("SMTransportAsm", cid, &SM_EVENT_TransportAssemble));
  PetscCall(PetscLogEventRegister("SMImageRead", cid, &SM_EVENT_ImageRead));
  PetscCall(PetscLogEventRegister("SMFit", cid, &SM_EVENT_Fit));
  PetscCall(PetscLogEventRegister("SMShape", cid, &SM_EVENT_Shape));
  PetscCall(PetscLogEventRegister("SMRaster", cid, &SM_EVENT_Raster));
  PetscCall(PetscLogEventRegister("SMWatershed", cid, &SM_EVENT_Watershed));
  PetscCall(PetscLogEventRegister("SMStarAtoms", cid, &SM_EVENT_StarAtoms));
  PetscCall(PetscLogEventRegister("SMStarCover", cid, &SM_EVENT_StarCover));
  PetscCall(PetscLogEventRegister("SMStarMerge", cid, &SM_EVENT_StarMerge));
  PetscCall(PetscLogEventRegister("SMShapeFit", cid, &SM_EVENT_ShapeFit));
  PetscCall(PetscLogEventRegister("SMShapeOffset", cid, &SM_EVENT_ShapeOffset));
  PetscCall(PetscLogEventRegister("SMTaskSteal", cid, &SM_EVENT_TaskSteal));
  PetscFunctionReturn(PETSC_SUCCESS);
}
