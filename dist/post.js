import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import{p as t,r as a}from"./chunks/chunk-RMNI72SN.js";if(a(o=>t(o))){let{cleanup:o}=await import("./chunks/cleanup-VPC6ZUK5.js");await o()}
